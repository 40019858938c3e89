//! Static files of the web admin, compiled into the binary so that one file is the whole
//! install. Names carry a version (`app-2.css`, `htmx-2.0.11.min.js`), so browsers may
//! cache them for good; change the name when the content changes.

use warp::http::{Response, StatusCode};

use super::Reply;

/// `(name under /static/, content type, content)`.
const FILES: &[(&str, &str, &str)] = &[
    (
        "app-2.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "app-2.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../static/favicon.svg"),
    ),
    (
        "vendor/htmx-2.0.11.min.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/vendor/htmx-2.0.11.min.js"),
    ),
];

pub const CSS: &str = "/static/app-2.css";
pub const JS: &str = "/static/app-2.js";
pub const HTMX: &str = "/static/vendor/htmx-2.0.11.min.js";

pub fn serve(name: &str) -> Reply {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => Response::builder()
            .status(StatusCode::OK)
            .header("content-type", *content_type)
            .header("cache-control", "public, max-age=31536000, immutable")
            .body(body.to_string())
            .expect("a valid response"),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header("content-type", "text/plain; charset=utf-8")
            .body(format!("no static file {name}\n"))
            .expect("a valid response"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_constant_names_a_file() {
        for path in [CSS, JS, HTMX] {
            let name = path.strip_prefix("/static/").unwrap();
            assert_eq!(serve(name).status(), StatusCode::OK, "{path}");
        }
        assert_eq!(serve("nope.css").status(), StatusCode::NOT_FOUND);
    }
}
