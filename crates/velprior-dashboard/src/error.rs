//! Errors of the dashboard, each mapped to an HTTP status with a one-line message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use thiserror::Error;

/// What a request or the server can get wrong.
#[derive(Debug, Error)]
pub enum DashboardError {
    /// A malformed request (bad path, bad query value): 400.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing at that path: 404.
    #[error("{0}")]
    NotFound(String),
    /// The runs folder or the socket cannot be used.
    #[error("{0}")]
    Io(String),
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let status = match self {
            DashboardError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DashboardError::NotFound(_) => StatusCode::NOT_FOUND,
            DashboardError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, format!("{status}: {self}\n")).into_response()
    }
}
