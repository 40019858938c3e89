//! The query string of a REST request, parsed once into typed values. Every list that pages
//! and every "how many" parameter goes through [`Query::limit`], so "a number from 1 to
//! 1000" is written once and a bad value is a 400 that names the parameter.

use std::collections::HashMap;

use crate::api::Request;
use crate::api::error::ApiError;

/// Most items one request may ask for (`limit`, `count`).
pub const MAX_LIMIT: i64 = 1000;
/// Items in a page when the caller does not say.
pub const DEFAULT_PAGE: i64 = 50;

/// The decoded query string (the last value of a repeated key wins).
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn of(request: &Request) -> Query {
        Query(request.query_map())
    }

    /// A query built by a caller (the Audit page's filter form, rewritten).
    pub fn from_map(map: HashMap<String, String>) -> Query {
        Query(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `key` as a number from 1 to [`MAX_LIMIT`], or `default` when it is absent.
    pub fn limit(&self, key: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("{key} must be a number from 1 to {MAX_LIMIT}"))
                }),
        }
    }

    /// `key` as an id, when it is given.
    pub fn id(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|text| {
                text.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("{key} must be an id, not {text:?}"))
                })
            })
            .transpose()
    }

    /// `before` and `limit`, the paging of every newest-first list.
    pub fn paging(&self) -> Result<Paging, ApiError> {
        let limit = self.limit("limit", DEFAULT_PAGE)?;
        Ok(Paging {
            before: self.id("before")?,
            limit,
        })
    }
}

/// One page of a newest-first list: the items with ids below `before` (all, without it),
/// at most `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub before: Option<i64>,
    pub limit: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(text: &str) -> Query {
        Query(crate::api::url_decode_pairs(text))
    }

    #[test]
    fn limits_default_and_stay_within_bounds() {
        assert_eq!(query("").limit("count", 10).unwrap(), 10);
        assert_eq!(query("count=1").limit("count", 10).unwrap(), 1);
        assert_eq!(query("count=1000").limit("count", 10).unwrap(), 1000);
        for bad in ["0", "1001", "-1", "x", "", "1.5"] {
            let e = query(&format!("limit={bad}"))
                .limit("limit", 50)
                .unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
            assert_eq!(e.message, "limit must be a number from 1 to 1000");
        }
    }

    #[test]
    fn paging_reads_before_and_limit() {
        assert_eq!(
            query("").paging().unwrap(),
            Paging {
                before: None,
                limit: DEFAULT_PAGE
            }
        );
        assert_eq!(
            query("before=17&limit=3").paging().unwrap(),
            Paging {
                before: Some(17),
                limit: 3
            }
        );
        let e = query("before=x").paging().unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.message.as_str()),
            (400, "before must be an id, not \"x\"")
        );
        assert!(query("limit=0").paging().is_err());
    }
}
