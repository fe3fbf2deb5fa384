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

/// The entries a listing remembers, to list none twice and to know what to skip when a
/// registry that ignores `last` is asked for the whole listing again.
enum Seen {
    /// Every entry so far: a whole listing is held in memory anyway.
    All(HashSet<String>),
    /// A hash of every entry handed out, for a listing handed out page by page: 8 bytes
    /// an entry instead of the entry (100 000 tags cost about 1 MiB of hash table, not the
    /// tags), while the pages themselves are let go. Two tags of one repository sharing a
    /// 64-bit hash (about 1 in 10^9 for 100 000 tags) would drop the second.
    Hashes(HashSet<u64>),
}

impl Seen {
    fn all() -> Seen {
        Seen::All(HashSet::new())
    }
    fn hashes() -> Seen {
        Seen::Hashes(HashSet::new())
    }
    /// Adds `entry`; whether it was new.
    fn insert(&mut self, entry: &str) -> bool {
        match self {
            Seen::All(all) => all.insert(entry.to_string()),
            Seen::Hashes(hashes) => hashes.insert(text_hash(entry)),
        }
    }
    /// Keeps the entries of a page not listed before (each once, in page order), and
    /// whether it repeated any.
    fn fresh(&mut self, page: Vec<String>) -> (Vec<String>, bool) {
        let total = page.len();
        let fresh: Vec<String> = page.into_iter().filter(|e| self.insert(e)).collect();
        let repeated = fresh.len() < total;
        (fresh, repeated)
    }
}

/// A 64-bit hash of a listed entry or a URL (fixed keys: the same for the same text).
fn text_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
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

/// Lists `path` page by page, handing each page's new entries (never empty, never an
/// entry handed out before) to `on_page`, whose error stops the listing and is returned.
fn paginate(
    session: &Session<'_>,
    path: &str,
    page_size: Option<u32>,
    what: &str,
    mut seen: Seen,
    parse: impl Fn(&[u8]) -> Result<Vec<String>>,
    on_page: &mut dyn FnMut(Vec<String>) -> Result<()>,
) -> Result<()> {
    let base = session.url(path)?;
    let start_origin = base.origin();
    let mut request = PageRequest {
        n: page_size,
        last: None,
    };
    let mut url = request.url(&base);
    // Each fallback is taken at most once: without `n` after a refused page size, and
    // the whole listing without `n` after a registry ignored `last`.
    let mut page_size_refused = false;
    let mut asked_whole = false;
    // The loop guard keeps a hash of each URL asked for, not the URL: 8 bytes a page, so
    // that a page-by-page listing of many small pages stays small too.
    let mut visited = HashSet::new();
    for _ in 0..MAX_PAGES {
        if !visited.insert(text_hash(url.as_str())) {
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
        let (fresh, repeated) = seen.fresh(page);
        if repeated && followed_last {
            // The registry ignored `last` and answered from the start again (or, as
            // go-containerregistry's does after its last tag, with its first page; its
            // catalog answers in no order at all): ask once for the whole listing, without
            // `n`, and hand out only what was not handed out before.
            // The new entries of this page are handed out too: they count as seen now.
            hand_out(fresh, on_page)?;
            if asked_whole {
                return Ok(());
            }
            asked_whole = true;
            request = PageRequest {
                n: None,
                last: None,
            };
            url = request.url(&base);
            continue;
        }
        hand_out(fresh, on_page)?;
        let link = match response.header("link") {
            Some(link) => next_link(link, &response.url)?,
            None => None,
        };
        match next_after(link, request.n, count, final_entry.as_deref()) {
            Next::Done => return Ok(()),
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

/// Hands a page's new entries to the caller; an empty page says nothing.
fn hand_out(fresh: Vec<String>, on_page: &mut dyn FnMut(Vec<String>) -> Result<()>) -> Result<()> {
    if fresh.is_empty() {
        return Ok(());
    }
    on_page(fresh)
}

/// Tags pages are `{"name": ..., "tags": [...]}`.
fn parse_tags(what: &str, body: &[u8]) -> Result<Vec<String>> {
    let page: TagsPage = serde_json::from_slice(body)
        .map_err(|e| Error::invalid_response(format!("{what}: a page is not valid JSON: {e}")))?;
    Ok(page.tags.unwrap_or_default())
}

/// Catalog pages are `{"repositories": [...]}`.
fn parse_catalog(what: &str, body: &[u8]) -> Result<Vec<String>> {
    let page: CatalogPage = serde_json::from_slice(body)
        .map_err(|e| Error::invalid_response(format!("{what}: a page is not valid JSON: {e}")))?;
    Ok(page.repositories.unwrap_or_default())
}

fn tags(
    client: &Client,
    repository: &str,
    seen: Seen,
    on_page: &mut dyn FnMut(Vec<String>) -> Result<()>,
) -> Result<()> {
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
        seen,
        |body| parse_tags(&what, body),
        on_page,
    )
}

fn repositories(
    client: &Client,
    registry: &str,
    seen: Seen,
    on_page: &mut dyn FnMut(Vec<String>) -> Result<()>,
) -> Result<()> {
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
        seen,
        |body| parse_catalog(&what, body),
        on_page,
    )
}

/// Every tag of `repository` (`registry/repository`, no tag or digest), each once.
pub fn list(client: &Client, repository: &str) -> Result<Vec<String>> {
    let mut all = Vec::new();
    tags(client, repository, Seen::all(), &mut |page| {
        all.extend(page);
        Ok(())
    })?;
    Ok(all)
}

/// Every tag of `repository`, each once, handed to `on_page` a registry page at a time as
/// the pages arrive: only the page at hand is held, and an 8-byte hash of each tag handed
/// out (to list none twice). An error from `on_page` stops the listing (no further
/// request) and is returned.
pub fn list_pages(
    client: &Client,
    repository: &str,
    on_page: &mut dyn FnMut(Vec<String>) -> Result<()>,
) -> Result<()> {
    tags(client, repository, Seen::hashes(), on_page)
}

/// Every repository of `registry` (`host[:port]`), each once.
pub fn catalog(client: &Client, registry: &str) -> Result<Vec<String>> {
    let mut all = Vec::new();
    repositories(client, registry, Seen::all(), &mut |page| {
        all.extend(page);
        Ok(())
    })?;
    Ok(all)
}

/// Every repository of `registry`, a page at a time, as `list_pages`.
pub fn catalog_pages(
    client: &Client,
    registry: &str,
    on_page: &mut dyn FnMut(Vec<String>) -> Result<()>,
) -> Result<()> {
    repositories(client, registry, Seen::hashes(), on_page)
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
        let page = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for mut seen in [Seen::all(), Seen::hashes()] {
            assert_eq!(
                seen.fresh(page(&["a", "b", "a"])),
                (page(&["a", "b"]), true)
            );
            assert_eq!(seen.fresh(page(&["c", "d"])), (page(&["c", "d"]), false));
            // Anything handed out before, however far back, is dropped.
            assert_eq!(seen.fresh(page(&["a", "d", "e"])), (page(&["e"]), true));
        }
        assert_eq!(text_hash("t000"), text_hash("t000"));
        assert_ne!(text_hash("t000"), text_hash("t001"));
    }
}
