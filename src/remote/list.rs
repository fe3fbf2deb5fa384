//! Tag listing and the catalog, every page of them.
//!
//! Registries paginate differently, and a listing must come out whole from each: `Link`
//! headers are followed (distribution); a full page without `Link` is followed by asking
//! for what comes after its last entry (`last=`, the distribution spec's own pagination,
//! which go-containerregistry's registry answers without `Link`); a refused page size
//! (distribution v3 above its `catalog.maxentries`) is asked again without `n`; and a
//! registry that ignores `last` (it repeats entries) is asked once for the whole listing
//! without `n`.

use super::client::Client;
use crate::error::{Error, Result};
use crate::name::{Registry, Repository};
use crate::transport::{redact, status, Response, Session};
use serde::Deserialize;
use std::collections::HashSet;
use url::Url;

/// A registry that hands out more pages than this is looping or hostile.
pub const MAX_PAGES: usize = 100_000;
/// One page of JSON is at most this big.
pub const PAGE_LIMIT: u64 = 16 * 1024 * 1024;

#[derive(Deserialize)]
struct TagsPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct CatalogPage {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

/// The URL of the next page from a `Link` header (`<url>; rel="next"`), resolved against
/// the URL that answered.
pub fn next_link(link: &str, base: &Url) -> Result<Option<Url>> {
    for part in link.split(',') {
        let part = part.trim();
        let Some(rest) = part.strip_prefix('<') else {
            continue;
        };
        let Some(end) = rest.find('>') else {
            continue;
        };
        let target = &rest[..end];
        let params = rest[end + 1..].to_ascii_lowercase();
        // Registries that send a single link without `rel` mean the next page.
        let is_next = params.contains("rel=\"next\"")
            || params.contains("rel=next")
            || !params.contains("rel=");
        if !is_next {
            continue;
        }
        if target.is_empty() {
            return Ok(None);
        }
        return base.join(target).map(Some).map_err(|e| {
            Error::invalid_response(format!(
                "Link header {link:?} from {} is not a usable URL: {e}",
                redact::url(base)
            ))
        });
    }
    Ok(None)
}

/// What a listing asks the registry for: a page size (`n`), and where to go on (`last`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PageRequest {
    n: Option<u32>,
    last: Option<String>,
}

impl PageRequest {
    fn url(&self, base: &Url) -> Url {
        let mut url = base.clone();
        if self.n.is_some() || self.last.is_some() {
            let mut query = url.query_pairs_mut();
            if let Some(last) = &self.last {
                query.append_pair("last", last);
            }
            if let Some(n) = self.n {
                query.append_pair("n", &n.to_string());
            }
        }
        url
    }
}

/// Where a listing goes after a page.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Done,
    /// The URL the registry's `Link` names.
    Link(Url),
    /// A full page without `Link`: ask for what follows its last entry.
    After(String),
}

/// The entries gathered so far, each once.
#[derive(Default)]
struct Entries {
    list: Vec<String>,
    seen: HashSet<String>,
}

impl Entries {
    /// Adds a page; whether it repeated an entry already listed.
    fn add(&mut self, page: Vec<String>) -> bool {
        let mut repeated = false;
        for entry in page {
            if self.seen.insert(entry.clone()) {
                self.list.push(entry);
            } else {
                repeated = true;
            }
        }
        repeated
    }
}

/// Decides where to go after a page of `count` entries ending with `final_entry`, asked
/// with page size `asked`.
fn next_after(
    link: Option<Url>,
    asked: Option<u32>,
    count: usize,
    final_entry: Option<&str>,
) -> Next {
    if let Some(url) = link {
        return Next::Link(url);
    }
    // A page longer than asked for comes from a registry that ignores `n`: it gave
    // everything it has (distribution 2.8's tag listing does so).
    match (asked, final_entry) {
        (Some(n), Some(last)) if count == n as usize => Next::After(last.to_string()),
        _ => Next::Done,
    }
}

/// Whether a 400 answer means "not that page size" (distribution v3's
/// `PAGINATION_NUMBER_INVALID` above its maximum; other registries answer a plain 400):
/// any 400 to a request that carried `n` is taken as that, and asked again without it.
fn refuses_page_size(response: &Response, asked: Option<u32>) -> bool {
    response.status == 400 && asked.is_some()
}

fn paginate(
    session: &Session<'_>,
    path: &str,
    page_size: Option<u32>,
    what: &str,
    parse: impl Fn(&[u8]) -> Result<Vec<String>>,
) -> Result<Vec<String>> {
    let base = session.url(path)?;
    let start_origin = base.origin();
    let mut entries = Entries::default();
    let mut request = PageRequest {
        n: page_size,
        last: None,
    };
    let mut url = request.url(&base);
    // Each fallback is taken at most once: without `n` after a refused page size, and
    // the whole listing without `n` after a registry ignored `last`.
    let mut page_size_refused = false;
    let mut asked_whole = false;
    let mut visited = HashSet::new();
    for _ in 0..MAX_PAGES {
        if !visited.insert(url.to_string()) {
            return Err(Error::invalid_response(format!(
                "{what}: the registry's pagination loops back to {}",
                redact::url(&url)
            )));
        }
        let get =
            crate::transport::Request::new("GET", url.clone()).header("Accept", "application/json");
        let mut response = session.send(get)?;
        if response.status != 200 {
            if !page_size_refused && refuses_page_size(&response, request.n) {
                response.drain();
                page_size_refused = true;
                request.n = None;
                url = request.url(&base);
                continue;
            }
            return Err(status::error_from_response("GET", response));
        }
        let body = response.read_limited(PAGE_LIMIT, what)?;
        let page = parse(&body)?;
        let count = page.len();
        let final_entry = page.last().cloned();
        let followed_last = request.last.is_some();
        let repeated = entries.add(page);
        if repeated && followed_last {
            // The registry ignored `last` and answered from the start again.
            if asked_whole {
                return Ok(entries.list);
            }
            asked_whole = true;
            entries = Entries::default();
            request = PageRequest {
                n: None,
                last: None,
            };
            url = request.url(&base);
            continue;
        }
        let link = match response.header("link") {
            Some(link) => next_link(link, &response.url)?,
            None => None,
        };
        match next_after(link, request.n, count, final_entry.as_deref()) {
            Next::Done => return Ok(entries.list),
            Next::Link(next) => {
                if next.origin() != start_origin {
                    return Err(Error::invalid_response(format!(
                        "{what}: the registry's Link points at another origin ({})",
                        redact::url(&next)
                    )));
                }
                // The registry's own URL carries its own page size and position.
                request.last = None;
                url = next;
            }
            Next::After(last) => {
                request.last = Some(last);
                url = request.url(&base);
            }
        }
    }
    Err(Error::invalid_response(format!(
        "{what}: more than {MAX_PAGES} pages"
    )))
}

/// Every tag of `repository` (`registry/repository`, no tag or digest).
pub fn list(client: &Client, repository: &str) -> Result<Vec<String>> {
    let repo = Repository::parse(repository)?;
    let op = client.operation()?;
    let session = op
        .ctx
        .session(repo.registry(), Some(repo.path()), vec![repo.scope("pull")]);
    let what = format!("tags of {repo}");
    paginate(
        &session,
        &format!("/v2/{}/tags/list", repo.path()),
        client.page_size(),
        &what,
        |body| {
            let page: TagsPage = serde_json::from_slice(body).map_err(|e| {
                Error::invalid_response(format!("{what}: a page is not valid JSON: {e}"))
            })?;
            Ok(page.tags.unwrap_or_default())
        },
    )
}

/// Every repository of `registry` (`host[:port]`).
pub fn catalog(client: &Client, registry: &str) -> Result<Vec<String>> {
    let reg = Registry::parse(registry)?;
    let op = client.operation()?;
    let session = op
        .ctx
        .session(&reg, None, vec!["registry:catalog:*".to_string()]);
    let what = format!("catalog of {reg}");
    paginate(
        &session,
        "/v2/_catalog",
        client.page_size(),
        &what,
        |body| {
            let page: CatalogPage = serde_json::from_slice(body).map_err(|e| {
                Error::invalid_response(format!("{what}: a page is not valid JSON: {e}"))
            })?;
            Ok(page.repositories.unwrap_or_default())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_parsing() {
        let base = Url::parse("http://r:5000/v2/a/tags/list?n=2").unwrap();
        let next = next_link(r#"</v2/a/tags/list?last=b&n=2>; rel="next""#, &base)
            .unwrap()
            .unwrap();
        assert_eq!(next.as_str(), "http://r:5000/v2/a/tags/list?last=b&n=2");
        let abs = next_link(
            r#"<https://other/v2/x?n=1>; rel="prev", <http://r:5000/v2/y?n=1>; rel=next"#,
            &base,
        )
        .unwrap()
        .unwrap();
        assert_eq!(abs.as_str(), "http://r:5000/v2/y?n=1");
        assert_eq!(next_link(r#"<x>; rel="prev""#, &base).unwrap(), None);
        assert_eq!(next_link("garbage", &base).unwrap(), None);
        assert!(next_link("</v2/z>", &base).unwrap().is_some());
    }

    #[test]
    fn page_urls_carry_last_and_n_only_when_set() {
        let base = Url::parse("http://r:5000/v2/a/tags/list").unwrap();
        let plain = PageRequest {
            n: None,
            last: None,
        };
        assert_eq!(plain.url(&base).as_str(), "http://r:5000/v2/a/tags/list");
        let sized = PageRequest {
            n: Some(100),
            last: Some("v 1/ü".into()),
        };
        assert_eq!(
            sized.url(&base).as_str(),
            "http://r:5000/v2/a/tags/list?last=v+1%2F%C3%BC&n=100"
        );
    }

    #[test]
    fn a_full_page_without_link_goes_on_after_its_last_entry() {
        let link = Url::parse("http://r/v2/a/tags/list?n=2&last=b").unwrap();
        assert_eq!(
            next_after(Some(link.clone()), Some(2), 2, Some("b")),
            Next::Link(link)
        );
        assert_eq!(
            next_after(None, Some(2), 2, Some("b")),
            Next::After("b".into())
        );
        assert_eq!(next_after(None, Some(2), 1, Some("b")), Next::Done);
        assert_eq!(next_after(None, Some(2), 3, Some("c")), Next::Done);
        assert_eq!(next_after(None, Some(2), 0, None), Next::Done);
        // Without `n` the registry chose the page size: only its Link says there is more.
        assert_eq!(next_after(None, None, 1000, Some("b")), Next::Done);
    }

    #[test]
    fn entries_are_kept_once_and_repeats_are_reported() {
        let mut entries = Entries::default();
        assert!(!entries.add(vec!["a".into(), "b".into()]));
        assert!(entries.add(vec!["b".into(), "c".into()]));
        assert_eq!(entries.list, vec!["a", "b", "c"]);
    }
}
