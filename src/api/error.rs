//! The REST API's one error type: every refusal or failure a handler answers, named by what it
//! means, mapped to Patroni's status code in [`ApiError::status`]. Bodies are plain text, as in
//! Patroni's REST API, so patronictl prints them unchanged.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A REST API error answer: a status code (Patroni's for the case) and a plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the request is malformed (a bad body, an unknown or mistyped field, a request that
    /// can never succeed as given).
    BadRequest(String),
    /// 401 with `WWW-Authenticate: Basic realm="Patroni"`: `restapi.authentication` is set and
    /// the request does not carry its credentials (body `no auth header received`, as Patroni).
    Unauthorized,
    /// 403: the client may not make unsafe requests (address not in `restapi.allowlist`, no
    /// client certificate).
    Forbidden(String),
    /// 404: nothing to act on (no scheduled switchover or restart to cancel).
    NotFound(String),
    /// 409: a concurrent change got there first (a compare-and-set on etcd failed, a restart is
    /// already scheduled).
    Conflict(String),
    /// 412: the cluster is not as the request assumes (wrong leader, unfit candidate).
    PreconditionFailed(String),
    /// 422: a scheduled time that cannot be read or lies in the past.
    Unprocessable(String),
    /// 500: this member cannot do it in its current state (Patroni's answer for a restart
    /// scheduled while paused and for a failsafe ping to a running primary).
    Internal(String),
    /// 502: the DCS could not serve the request (failsafe mode off, no configuration, a failed
    /// `PUT /config` write).
    BadGateway(String),
    /// 503: the action could not be carried out now (etcd not accessible, the HA loop not
    /// running, a switchover, restart or reinitialize that failed or timed out).
    Unavailable(String),
}

impl ApiError {
    /// 503 `DCS is not accessible: <error>`: etcd could not be read.
    pub fn dcs(e: &anyhow::Error) -> ApiError {
        ApiError::Unavailable(format!("DCS is not accessible: {e:#}"))
    }

    /// The status code Patroni answers for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The plain-text body.
    pub fn body(&self) -> &str {
        match self {
            ApiError::Unauthorized => "no auth header received",
            ApiError::BadRequest(s)
            | ApiError::Forbidden(s)
            | ApiError::NotFound(s)
            | ApiError::Conflict(s)
            | ApiError::PreconditionFailed(s)
            | ApiError::Unprocessable(s)
            | ApiError::Internal(s)
            | ApiError::BadGateway(s)
            | ApiError::Unavailable(s) => s,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status().as_u16(), self.body())
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status(), self.body().to_string()).into_response();
        if self == ApiError::Unauthorized {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Patroni\""),
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(e: ApiError) -> (StatusCode, Option<String>, String) {
        let r = e.into_response();
        let status = r.status();
        let auth = r
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().expect("ascii").to_string());
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .expect("a body");
        (
            status,
            auth,
            String::from_utf8(body.to_vec()).expect("utf-8"),
        )
    }

    #[tokio::test]
    async fn each_variant_has_its_code_and_body() {
        let cases = [
            (ApiError::BadRequest("b".into()), 400),
            (ApiError::Forbidden("f".into()), 403),
            (ApiError::NotFound("n".into()), 404),
            (ApiError::Conflict("c".into()), 409),
            (ApiError::PreconditionFailed("p".into()), 412),
            (ApiError::Unprocessable("u".into()), 422),
            (ApiError::Internal("i".into()), 500),
            (ApiError::BadGateway("g".into()), 502),
            (ApiError::Unavailable("a".into()), 503),
        ];
        for (e, code) in cases {
            let body = e.body().to_string();
            assert_eq!(e.status().as_u16(), code, "{e:?}");
            assert_eq!(
                answer(e).await,
                (StatusCode::from_u16(code).unwrap(), None, body)
            );
        }
        assert_eq!(
            answer(ApiError::Unauthorized).await,
            (
                StatusCode::UNAUTHORIZED,
                Some("Basic realm=\"Patroni\"".into()),
                "no auth header received".into()
            )
        );
        let e = ApiError::dcs(&anyhow::anyhow!("connection refused"));
        assert_eq!(
            answer(e).await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "DCS is not accessible: connection refused".into()
            )
        );
    }
}
