//! The fake's answers: GitLab's error bodies, injected faults, and one page of a list with
//! GitLab's offset pagination headers (`x-page`, `x-per-page`, `x-next-page`, `x-prev-page`,
//! `x-total`, `x-total-pages`, `Link`), totals omitted past the count limit as GitLab does.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{json, Value};

use super::{Fault, World};

/// A GitLab error answer: `{"message": "404 Branch Not Found"}`.
pub fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "message": text }))).into_response()
}

/// What an injected fault answers (slow answers are handled by the caller).
pub fn fault(fault: Fault) -> Response {
    match fault {
        Fault::RetryAfter(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", secs.to_string())],
            "Retry later",
        )
            .into_response(),
        Fault::RateLimitReset => {
            let reset = Utc::now().timestamp().to_string();
            let headers = [
                ("ratelimit-reset", reset),
                ("ratelimit-limit", "600".into()),
            ];
            (StatusCode::TOO_MANY_REQUESTS, headers, "Retry later").into_response()
        }
        Fault::Bare429 => (StatusCode::TOO_MANY_REQUESTS, "Retry later").into_response(),
        Fault::Status(code) => (
            StatusCode::from_u16(code).unwrap(),
            "<html><body>oops</body></html>",
        )
            .into_response(),
        Fault::Garbage => (
            StatusCode::OK,
            [("content-type", "application/json")],
            "[{\"id\": \"not a number\"",
        )
            .into_response(),
        Fault::Slow(_) => unreachable!("handled before the endpoint"),
    }
}

/// Query pairs, repeated keys kept (`iids[]`).
pub fn pairs(query: &Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// One page of `items` with GitLab's offset pagination headers.
pub fn page(world: &World, path: &str, query: &[(String, String)], items: Vec<Value>) -> Response {
    let number = |key: &str, default: usize| {
        param(query, key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let per_page = number("per_page", 20).clamp(1, 100);
    let page = number("page", 1).max(1);
    let total = items.len();
    let pages = total.div_ceil(per_page).max(1);
    let mut body: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    if world.empty_pages_bug && page > 1 {
        body.clear();
    }
    let mut response = axum::Json(Value::Array(body)).into_response();
    let headers = Headers {
        page,
        per_page,
        pages,
        total,
        counted: total <= world.count_limit,
    };
    headers.write(response.headers_mut(), world.link_only, path, query);
    response
}

/// What the headers of one page say.
struct Headers {
    page: usize,
    per_page: usize,
    pages: usize,
    total: usize,
    /// Totals are shown (GitLab omits them past its count limit).
    counted: bool,
}

impl Headers {
    fn write(&self, h: &mut HeaderMap, link_only: bool, path: &str, query: &[(String, String)]) {
        let Headers {
            page,
            per_page,
            pages,
            total,
            counted,
        } = *self;
        let link = |p: usize| {
            let mut rest: Vec<(String, String)> =
                query.iter().filter(|(k, _)| k != "page").cloned().collect();
            rest.push(("page".into(), p.to_string()));
            let q = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(rest)
                .finish();
            format!("<https://gitlab.example.com{path}?{q}>")
        };
        let mut links = vec![format!("{}; rel=\"first\"", link(1))];
        let next = (page < pages).then(|| page + 1);
        if let Some(n) = next {
            links.insert(0, format!("{}; rel=\"next\"", link(n)));
        }
        if page > 1 {
            links.insert(0, format!("{}; rel=\"prev\"", link(page - 1)));
        }
        if counted {
            links.push(format!("{}; rel=\"last\"", link(pages)));
        }
        let mut set = |k: &'static str, v: String| {
            h.insert(k, v.parse().unwrap());
        };
        set("x-page", page.to_string());
        set("x-per-page", per_page.to_string());
        if !link_only {
            set(
                "x-next-page",
                next.map(|n| n.to_string()).unwrap_or_default(),
            );
        }
        set(
            "x-prev-page",
            if page > 1 {
                (page - 1).to_string()
            } else {
                String::new()
            },
        );
        if counted {
            set("x-total", total.to_string());
            set("x-total-pages", pages.to_string());
        }
        set("link", links.join(", "));
    }
}
