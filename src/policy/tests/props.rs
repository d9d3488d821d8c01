//! Property test over random histories.
