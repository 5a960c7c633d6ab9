//! One table of error codes for the CLI and the HTTP API: each code has a
//! stable name, an HTTP status, a hint for the user, and says who is at fault
//! (the caller's input, or Wayfarer itself).

use serde::Serialize;

/// Stable error codes. The string form (`code()`) is part of the API contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    InvalidField,
    MissingField,
    MissingIdentity,
    InvalidTimestamp,
    PayloadTooLarge,
    Unauthorized,
    Forbidden,
    NotFound,
    UnreadableFile,
    UnknownFormat,
    DataDirLocked,
    DataDirInvalid,
    ConfigInvalid,
    InvalidQuery,
    QueryTimeout,
    Unavailable,
    MethodNotAllowed,
    UnsupportedMediaType,
    RequestTimeout,
    HeadersTooLarge,
    InvalidForm,
    TimestampOutOfRange,
    ValueOutOfRange,
    Busy,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 26] = [
        ErrorCode::InvalidJson,
        ErrorCode::InvalidField,
        ErrorCode::MissingField,
        ErrorCode::MissingIdentity,
        ErrorCode::InvalidTimestamp,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::UnreadableFile,
        ErrorCode::UnknownFormat,
        ErrorCode::DataDirLocked,
        ErrorCode::DataDirInvalid,
        ErrorCode::ConfigInvalid,
        ErrorCode::InvalidQuery,
        ErrorCode::QueryTimeout,
        ErrorCode::Unavailable,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RequestTimeout,
        ErrorCode::HeadersTooLarge,
        ErrorCode::InvalidForm,
        ErrorCode::TimestampOutOfRange,
        ErrorCode::ValueOutOfRange,
        ErrorCode::Busy,
        ErrorCode::Internal,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::MissingIdentity => "missing_identity",
            ErrorCode::InvalidTimestamp => "invalid_timestamp",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::UnreadableFile => "unreadable_file",
            ErrorCode::UnknownFormat => "unknown_format",
            ErrorCode::DataDirLocked => "data_dir_locked",
            ErrorCode::DataDirInvalid => "data_dir_invalid",
            ErrorCode::ConfigInvalid => "config_invalid",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::QueryTimeout => "query_timeout",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::HeadersTooLarge => "headers_too_large",
            ErrorCode::InvalidForm => "invalid_form",
            ErrorCode::TimestampOutOfRange => "timestamp_out_of_range",
            ErrorCode::ValueOutOfRange => "value_out_of_range",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidJson
            | ErrorCode::InvalidField
            | ErrorCode::MissingField
            | ErrorCode::MissingIdentity
            | ErrorCode::InvalidTimestamp
            | ErrorCode::UnreadableFile
            | ErrorCode::UnknownFormat
            | ErrorCode::ConfigInvalid
            | ErrorCode::InvalidQuery
            | ErrorCode::TimestampOutOfRange
            | ErrorCode::ValueOutOfRange => 400,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::InvalidForm => 422,
            ErrorCode::HeadersTooLarge => 431,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::DataDirLocked => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::QueryTimeout => 504,
            ErrorCode::Unavailable | ErrorCode::Busy => 503,
            ErrorCode::DataDirInvalid | ErrorCode::Internal => 500,
        }
    }

    /// The code of an error answer that was made with a status only (by
    /// routing, an extractor or a layer), for the JSON body it gets.
    pub fn for_status(status: u16) -> ErrorCode {
        match status {
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            409 => ErrorCode::DataDirLocked,
            408 => ErrorCode::RequestTimeout,
            413 => ErrorCode::PayloadTooLarge,
            415 => ErrorCode::UnsupportedMediaType,
            422 => ErrorCode::InvalidForm,
            431 => ErrorCode::HeadersTooLarge,
            503 => ErrorCode::Unavailable,
            504 => ErrorCode::QueryTimeout,
            400..=499 => ErrorCode::InvalidQuery,
            _ => ErrorCode::Internal,
        }
    }

    /// Whether the caller can fix it (true) or it is Wayfarer's fault (false).
    pub fn is_user_error(self) -> bool {
        !matches!(self, ErrorCode::Internal | ErrorCode::DataDirInvalid | ErrorCode::Unavailable | ErrorCode::Busy)
    }

    pub fn hint(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "Send a JSON object (or one JSON object per line for NDJSON files).",
            ErrorCode::InvalidField => {
                "Check the field's type against the Segment spec or the flat schema in the README."
            }
            ErrorCode::MissingField => {
                "Add the field; flat rows need customer_id (or user_id/anonymous_id), timestamp and event."
            }
            ErrorCode::MissingIdentity => "Every message needs a userId or an anonymousId.",
            ErrorCode::InvalidTimestamp => {
                "Use RFC 3339 (2026-05-01T12:00:00Z, offsets allowed), a date, or epoch seconds/milliseconds."
            }
            ErrorCode::PayloadTooLarge => {
                "Messages are limited to 32 KB and batches to 4 MB; split the batch or the message."
            }
            ErrorCode::Unauthorized => {
                "Send a write key as the HTTP Basic user name, or a read token as 'Authorization: Bearer <token>'."
            }
            ErrorCode::Forbidden => {
                "This key cannot do that: write keys ingest, read tokens query. Create one with `wayfarer keys create`."
            }
            ErrorCode::NotFound => "Check the path; `wayfarer --help` and /api/openapi.json list what exists.",
            ErrorCode::UnreadableFile => {
                "Check the file exists, is complete, and is CSV, NDJSON or Parquet (use --format if the extension is unusual)."
            }
            ErrorCode::UnknownFormat => "Name the format with --format csv|ndjson|parquet.",
            ErrorCode::DataDirLocked => {
                "Another Wayfarer process is writing to this data directory; wait for it or stop it."
            }
            ErrorCode::DataDirInvalid => {
                "The data directory's manifest is damaged; restore it from a backup or re-import."
            }
            ErrorCode::ConfigInvalid => "Fix the named key; `wayfarer config init` writes a documented default.",
            ErrorCode::InvalidQuery => "Check the query's arguments; `wayfarer <command> --help` lists them.",
            ErrorCode::QueryTimeout => "Narrow the query (a shorter date range, fewer steps) or raise the timeout.",
            ErrorCode::Unavailable => {
                "Wayfarer could not write or read its files (is the disk full, failing or read-only?); nothing of this request or import was stored: retry once there is room."
            }
            ErrorCode::MethodNotAllowed => {
                "Use the method the endpoint takes: POST for /v1/* and /api/sql, GET for queries and pages."
            }
            ErrorCode::UnsupportedMediaType => {
                "Send the body with the Content-Type the endpoint expects (JSON, or a form for /login and /notes)."
            }
            ErrorCode::RequestTimeout => {
                "The request took too long to arrive or to answer; send it again, faster or smaller."
            }
            ErrorCode::HeadersTooLarge => "Send fewer or smaller headers (at most 100 headers and 64 KB).",
            ErrorCode::InvalidForm => "The form is missing a field or has a wrong one; submit it from the dashboard.",
            ErrorCode::TimestampOutOfRange => {
                "The event's time is outside the accepted range ([ingest] earliest and max_future_hours in wayfarer.toml); check the sender's clock or the unit."
            }
            ErrorCode::ValueOutOfRange => {
                "The value is outside the accepted range ([ingest] max_revenue in wayfarer.toml); check its unit."
            }
            ErrorCode::Busy => "The server is at its limit of running queries, or shutting down; retry shortly.",
            ErrorCode::Internal => "This is a bug in Wayfarer; please report it with the message.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn codes_are_unique_and_statuses_sane() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.code()), "duplicate code {}", c.code());
            assert!((400..600).contains(&c.http_status()));
            assert!(!c.hint().is_empty());
            assert_eq!(c.is_user_error(), c.http_status() < 500 || c == ErrorCode::QueryTimeout);
            // A status-only answer gets a code with that very status.
            assert_eq!(ErrorCode::for_status(c.http_status()).http_status(), c.http_status(), "{}", c.code());
        }
    }
}
