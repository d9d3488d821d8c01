//! Registry client tests against a real docker-registry process.
