//! Gateway connection.
