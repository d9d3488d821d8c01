//! Offset pagination (`page`, `per_page`): follows `x-next-page` or `Link: rel="next"`, reads at
//! most a bounded number of pages, and refuses pages that contradict their own headers (an empty
//! page that claims a successor, a total the pages do not add up to: GitLab's empty-pages bug).

use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use url::Url;

use super::error::GitLabError;
use super::transport::{Budget, Transport};

/// Whether a list must be read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Paging {
    /// Every item is needed: more pages than the limit is an error.
    Whole,
    /// A prefix will do (lists sorted by `updated_at` continue from a watermark next time).
    Prefix,
}

/// The items of a list, as far as it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    /// `x-total` of the last page read; GitLab omits it past 10,000 items.
    pub total: Option<u64>,
    pub pages: u32,
    /// Read to the last page (always true for `Paging::Whole`).
    pub complete: bool,
}

/// Where the headers say the list goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Page(u32),
    Last,
    /// No pagination header at all.
    Unknown,
}

struct PageInfo {
    next: Next,
    total: Option<u64>,
    total_pages: Option<u32>,
}

fn number<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Result<Option<T>, String> {
    match headers.get(name).map(|v| v.to_str().map(str::trim)) {
        None => Ok(None),
        Some(Ok("")) => Ok(None),
        Some(Ok(text)) => text
            .parse()
            .map(Some)
            .map_err(|_| format!("{name}: {text:?} is not a number")),
        Some(Err(_)) => Err(format!("{name}: not text")),
    }
}

/// The `page` of the `rel="next"` URL of a `Link` header; `Last` when there is no next link.
fn link_next(link: &str) -> Result<Next, String> {
    for part in link.split(',') {
        let Some((target, params)) = part.split_once(';') else {
            continue;
        };
        if !params.split(';').any(|p| p.trim() == "rel=\"next\"") {
            continue;
        }
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        let url = Url::parse(target).map_err(|e| format!("Link next {target:?}: {e}"))?;
        let page = url
            .query_pairs()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| format!("Link next {target:?} has no page number"))?;
        return Ok(Next::Page(page));
    }
    Ok(Next::Last)
}

fn page_info(headers: &HeaderMap) -> Result<PageInfo, String> {
    let next = match headers.get("x-next-page") {
        Some(_) => match number::<u32>(headers, "x-next-page")? {
            Some(n) => Next::Page(n),
            None => Next::Last,
        },
        None => match headers.get("link").and_then(|v| v.to_str().ok()) {
            Some(link) => link_next(link)?,
            None => Next::Unknown,
        },
    };
    Ok(PageInfo {
        next,
        total: number(headers, "x-total")?,
        total_pages: number(headers, "x-total-pages")?,
    })
}

/// Checks one page against its headers; returns whether another page follows.
fn check_page(page: u32, len: usize, per_page: u32, info: &PageInfo) -> Result<bool, String> {
    if len > per_page as usize {
        return Err(format!(
            "page {page} holds {len} items, more than per_page {per_page}"
        ));
    }
    let next = match info.next {
        Next::Unknown if len < per_page as usize => Next::Last,
        Next::Unknown => {
            return Err(format!(
                "page {page} is full but carries no x-next-page or Link header"
            ))
        }
        other => other,
    };
    match next {
        Next::Page(n) if n != page + 1 => Err(format!("page {page} names page {n} as the next")),
        Next::Page(n) if len < per_page as usize => Err(format!(
            "page {page} holds {len} of {per_page} items but the headers say page {n} follows \
             (empty pages past page 1 are a known GitLab bug)"
        )),
        Next::Page(_) => Ok(true),
        _ => match info.total_pages {
            Some(pages) if pages > page => Err(format!(
                "page {page} is the last, but x-total-pages says {pages}"
            )),
            _ => Ok(false),
        },
    }
}

/// Reads the list at `base` page by page (`per_page` from the settings, at most `max_pages`).
pub(crate) async fn list<T: DeserializeOwned>(
    transport: &Transport,
    base: &Url,
    budget: &Budget,
    max_pages: u32,
    paging: Paging,
) -> Result<Listing<T>, GitLabError> {
    let per_page = transport.settings().per_page;
    let path = base.path().to_owned();
    let inconsistent = |detail: String| GitLabError::Pagination {
        path: path.clone(),
        detail,
    };
    let mut listing = Listing {
        items: Vec::new(),
        total: None,
        pages: 0,
        complete: false,
    };
    for page in 1..=max_pages {
        let mut url = base.clone();
        url.query_pairs_mut()
            .append_pair("page", &page.to_string())
            .append_pair("per_page", &per_page.to_string());
        let reply = transport.get(&url, budget).await?.expect_success()?;
        let items: Vec<T> = reply.json()?;
        let info = page_info(&reply.headers).map_err(&inconsistent)?;
        let more = check_page(page, items.len(), per_page, &info).map_err(&inconsistent)?;
        listing.items.extend(items);
        listing.total = info.total;
        listing.pages = page;
        if !more {
            listing.complete = true;
            break;
        }
    }
    if !listing.complete {
        if paging == Paging::Whole {
            return Err(GitLabError::TooManyPages { path, max_pages });
        }
        return Ok(listing);
    }
    match listing.total {
        Some(total) if total != listing.items.len() as u64 => Err(inconsistent(format!(
            "{} items listed over {} pages, but x-total says {total}",
            listing.items.len(),
            listing.pages
        ))),
        _ => Ok(listing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn info(pairs: &[(&'static str, &str)]) -> PageInfo {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        page_info(&h).unwrap()
    }

    #[test]
    fn next_page_from_either_header() {
        assert_eq!(info(&[("x-next-page", "3")]).next, Next::Page(3));
        assert_eq!(info(&[("x-next-page", "")]).next, Next::Last);
        let link = r#"<https://g.example/api/v4/projects/1/repository/branches?page=2&per_page=2>; rel="next", <https://g.example/api/v4/projects/1/repository/branches?page=1&per_page=2>; rel="first""#;
        assert_eq!(info(&[("link", link)]).next, Next::Page(2));
        let last_only = r#"<https://g.example/x?page=1&per_page=2>; rel="first""#;
        assert_eq!(info(&[("link", last_only)]).next, Next::Last);
        assert_eq!(info(&[]).next, Next::Unknown);
    }

    #[test]
    fn pages_that_contradict_their_headers() {
        let more = info(&[
            ("x-next-page", "2"),
            ("x-total", "250"),
            ("x-total-pages", "3"),
        ]);
        assert_eq!(check_page(1, 100, 100, &more), Ok(true));
        let empty_with_next = info(&[("x-next-page", "3"), ("x-total-pages", "3")]);
        let err = check_page(2, 0, 100, &empty_with_next).unwrap_err();
        assert!(err.contains("empty pages"), "{err}");
        let early_end = info(&[("x-next-page", ""), ("x-total-pages", "3")]);
        assert!(check_page(2, 100, 100, &early_end)
            .unwrap_err()
            .contains("x-total-pages"));
        let bare = info(&[]);
        assert_eq!(check_page(1, 7, 100, &bare), Ok(false));
        assert!(check_page(1, 100, 100, &bare).is_err());
        let skip = info(&[("x-next-page", "5")]);
        assert!(check_page(1, 100, 100, &skip).is_err());
    }
}
