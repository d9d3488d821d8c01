//! The store: what webhooks told us, in SQLite or Postgres behind one interface.

pub mod model;
