//! API errors: `{"error": {"code", "message"}}` with the matching HTTP status.

use warp::http::StatusCode;

use tokio_postgres::error::SqlState;

use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn unprocessable(message: impl Into<String>) -> ApiError {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl ApiError {
    /// A 5xx whose cause stays in the log: the client gets "internal error" and a request
    /// id, which the log line carries next to the real error (a database's text names
    /// tables, constraints and values, which are nobody's business outside).
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        Self::hidden(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
            cause,
        )
    }

    fn hidden(
        status: StatusCode,
        code: &'static str,
        what: &str,
        cause: &dyn std::fmt::Display,
    ) -> ApiError {
        let request_id = uuid::Uuid::now_v7().simple().to_string();
        tracing::error!(request_id = %request_id, error = %cause, status = status.as_u16(), "request failed");
        ApiError::new(status, code, format!("{what} (request id {request_id})"))
    }
}

/// A driver error of a handler's own transaction (`begin`, `commit`) answers as the
/// store's would.
impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> ApiError {
        StoreError::from(e).into()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        if e.is_unavailable() {
            return ApiError::hidden(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "database unavailable",
                &e,
            );
        }
        // Text Postgres cannot store — a NUL character (`%00`, `\u0000`) in a name, a query
        // parameter or a body — is the request's fault, not the server's.
        if let Some(code) = e.code()
            && (*code == SqlState::CHARACTER_NOT_IN_REPERTOIRE
                || *code == SqlState::UNTRANSLATABLE_CHARACTER)
        {
            return ApiError::bad_request(
                "the request holds a character that cannot be stored (a NUL, \\0)",
            );
        }
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            StoreError::Invalid(m) => ApiError::unprocessable(m),
            other => ApiError::internal(&other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_says_only_internal_error_and_a_request_id() {
        let e = ApiError::internal(&"relation \"pgdag.secret_table\" does not exist");
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            e.message.starts_with("internal error (request id "),
            "{}",
            e.message
        );
        assert!(!e.message.contains("secret_table"));
    }
}
