//! Query parameters, read by hand so that every bad value is a 400 naming the parameter: repeated keys (`tag`),
//! boolean flags (`validate_only`, `as_blueprint`, `expand_references`, `only_references`) and paging.

use axum::http::Uri;
use vamp_core::store::Page;

use super::error::ApiError;

/// The decoded query of a request, in order, keys repeated as given.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// The query of `uri`.
    pub fn of(uri: &Uri) -> Query {
        Query {
            pairs: uri
                .query()
                .map(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The first value of `key`.
    pub fn first(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The pairs other than `page` and `per_page`, for paging links.
    pub fn without_paging(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(k, _)| k != "page" && k != "per_page")
            .cloned()
            .collect()
    }

    /// A boolean flag: absent is false; `true`/`1`/`yes`/empty are true; `false`/`0`/`no` false; anything else
    /// is 400.
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.first(key) {
            None => Ok(false),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "" | "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                other => Err(ApiError::bad_request(format!(
                    "The query parameter '{key}' is a boolean; '{other}' is neither true nor false."
                ))),
            },
        }
    }

    /// The page asked for: `page` from 1 (default 1), `per_page` from 1 (default 30), capped at `max_per_page`.
    pub fn page(&self, max_per_page: u32) -> Result<Page, ApiError> {
        let number = |key: &str, default: u32| -> Result<u32, ApiError> {
            match self.first(key) {
                None => Ok(default),
                Some(v) => v.trim().parse::<u32>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "The query parameter '{key}' is a positive whole number; '{v}' is not."
                    ))
                }),
            }
        };
        let page = number("page", 1)?;
        let per_page = number("per_page", vamp_core::store::DEFAULT_PER_PAGE)?;
        if page == 0 || per_page == 0 {
            return Err(ApiError::bad_request(
                "'page' and 'per_page' count from 1; ask for page 1 or higher with at least 1 item per page.",
            ));
        }
        Ok(Page::new(page, per_page.min(max_per_page.max(1)))?)
    }
}
