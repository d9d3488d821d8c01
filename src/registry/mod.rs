//! Registry client (Docker Registry HTTP API v2 / OCI distribution): list, resolve, remove tags.
