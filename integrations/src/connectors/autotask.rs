//! Placeholder while the connector is written.
