//! Retention policy: a pure function from recorded state and a registry snapshot to a plan.
