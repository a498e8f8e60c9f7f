//! The sync loop: fetch a page, let the connector read it, hand its users on,
//! and decide the next page by the spec's pagination style and stop conditions.
//!
//! Users stream out page by page: memory holds one page (or the window of
//! concurrent pages), whatever the number of users.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::{FuturesOrdered, FuturesUnordered};
use reqwest::header::{HeaderMap, LINK};
use serde_json::Value;
use url::Url;

use crate::Connector;
use crate::error::SyncError;
use crate::headers::link_next;
use crate::http::{self, Client, RetryPolicy};
use crate::listing::{Gathered, Held};
use crate::page::{ApiErrorKind, Joined, PageError, PageInfo};
use crate::record::{Dropped, User};
use crate::request::{Connection, Requests};
use crate::secret::{CredentialValues, Secret};
use crate::session::SignIn;
use crate::spec::{
    Auth, CountStop, Counted, ListingKind, ListingRequest, Lookup, NextUrlSource, Pagination, TokenSource, TokenStop,
    TokenTarget,
};

/// Bounds of one sync.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// The most pages one sync fetches; more is an error, not a silent cut.
    pub max_pages: u32,
    pub retry: RetryPolicy,
    /// How long the whole sync may take: an API that answers every page
    /// slowly, or asks to wait before each, cannot hold a sync slot for days.
    pub deadline: Duration,
}

/// Six hours: a sync of a million users takes minutes; one that lasts this long is stuck.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(6 * 3600);

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions { max_pages: 100_000, retry: RetryPolicy::default(), deadline: DEFAULT_DEADLINE }
    }
}

/// The users of one page, handed to the sink in page order.
#[derive(Debug, Default)]
pub struct PageUsers {
    /// 1 for the first page.
    pub number: u32,
    pub users: Vec<User>,
    pub dropped: Vec<Dropped>,
}

/// What a complete sync saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// Pages handed on; pages asked for ahead and dropped unread do not count.
    pub pages: u32,
    pub users: u64,
    pub dropped: u64,
    /// Pages linked by a next URL or token, and no page of a listing held
    /// one: only its first page was read. Right for a small account; for a
    /// large one, the spec reads the link from the wrong place.
    pub unlinked: bool,
    /// Lookup requests answered (a 404 that means "nothing" included).
    pub lookups: u64,
    /// Time the pages waited for their users' lookups, summed over pages.
    pub lookup_time: Duration,
}

/// Syncs every user of one connection, handing each page's users to `sink`.
/// An error means the sync is incomplete: whatever was handed on must not
/// replace stored users. The connector is shared because concurrent pages
/// are read on the runtime's worker threads, in parallel.
pub async fn sync(
    client: &Client,
    connector: Arc<dyn Connector>,
    connection: &Connection<'_>,
    options: &SyncOptions,
    sink: &mut (dyn FnMut(PageUsers) + Send),
) -> Result<SyncSummary, SyncError> {
    let spec = connector.spec();
    let client = &*client_for(client, spec, connection)?;
    let session = session(client, spec, connection, &options.retry)?;
    let connection = &signed_in(connection, session.as_ref());
    // The bound on what a sync holds of its answers is shared by the requests it keeps in flight.
    let window = match &spec.pagination {
        Pagination::Offset(counted) | Pagination::PageNumber(counted) => u64::from(counted.concurrency.max(1)),
        Pagination::None | Pagination::NextUrl { .. } | Pagination::Token { .. } => 1,
    };
    let requests = requests(spec, connection).await?;
    let pages = Pages::new(client, connector, requests, &options.retry, client.max_answer_bytes() / window);
    let listings = spec.endpoint.listings;
    let handed = Handed {
        max_pages: options.max_pages,
        requested: 0,
        numbered: 0,
        sink,
        summary: SyncSummary::default(),
        listed: (!listings.is_empty()).then(HashSet::new),
        gather: None,
    };
    let mut run = Run { pages, handed, max_users: spec.max_users };
    let paged = async {
        if !spec.listings.is_empty() {
            let started = Instant::now();
            let (gathered, asked) = gather(&run.pages, options.max_pages).await?;
            run.pages.gathered = gathered;
            run.pages.looked_up.fetch_add(asked, Ordering::Relaxed);
            run.pages.lookup_nanos.fetch_add(nanos(started.elapsed()), Ordering::Relaxed);
        }
        if listings.is_empty() {
            return run.listing(&spec.pagination).await;
        }
        let all = run.pages.requests.clone();
        for listing in listings {
            run.pages.requests = all.listing(listing);
            run.listing(&spec.pagination).await?;
        }
        Ok(())
    };
    match tokio::time::timeout(options.deadline, paged).await {
        Ok(paged) => paged?,
        Err(_) => return Err(SyncError::Deadline { after: options.deadline }),
    }
    let mut summary = run.handed.summary;
    summary.lookups = run.pages.looked_up.load(Ordering::Relaxed);
    summary.lookup_time = Duration::from_nanos(run.pages.lookup_nanos.load(Ordering::Relaxed));
    Ok(summary)
}

/// The client a connection's requests go through: the process's, or one like it that presents the
/// connection's client certificate.
fn client_for<'c>(
    client: &'c Client,
    spec: &'static crate::Spec,
    connection: &Connection<'_>,
) -> Result<std::borrow::Cow<'c, Client>, SyncError> {
    match spec.endpoint.client_certificate {
        None => Ok(std::borrow::Cow::Borrowed(client)),
        Some(index) => Ok(std::borrow::Cow::Owned(client.with_identity(connection.credentials.get(index).as_bytes())?)),
    }
}

/// The sign-in of a spec with `auth session`, for a connection that brings no tokens of its own.
fn session<'c>(
    client: &'c Client,
    spec: &'static crate::Spec,
    connection: &Connection<'c>,
    retry: &RetryPolicy,
) -> Result<Option<SignIn<'c>>, SyncError> {
    match (&spec.auth, connection.tokens) {
        (Auth::Session(session), None) => {
            let base = crate::request::base(spec, connection, None)?;
            Ok(Some(SignIn::new(client, session, connection.credentials, &base, retry.clone())))
        }
        _ => Ok(None),
    }
}

/// The connection with the session's sign-in as its tokens, where it has one.
fn signed_in<'c>(connection: &Connection<'c>, session: Option<&'c SignIn<'c>>) -> Connection<'c> {
    Connection {
        credentials: connection.credentials,
        tokens: session.map(|s| s as &dyn crate::oauth::TokenProvider).or(connection.tokens),
        base_url: connection.base_url,
    }
}

/// The requests of one sync. A spec that takes its base URL from the token
/// answer gets its token first, and goes where that answer says; a session is
/// signed in first, as its answer gives values the request path holds.
async fn requests<'c>(spec: &'static crate::Spec, connection: &Connection<'c>) -> Result<Requests<'c>, SyncError> {
    let origin = match (spec.auth.base_url_from(), connection.tokens, connection.base_url) {
        (Some(field), Some(tokens), None) => {
            tokens.token().await?;
            let origin = tokens.base_url().await.ok_or_else(|| SyncError::Auth {
                message: format!("the token answer gave no `{field}`, which the spec says holds the API's base URL"),
                permanent: false,
            })?;
            Some(origin)
        }
        _ => None,
    };
    let session = match (&spec.auth, connection.tokens) {
        (Auth::Session(_), Some(tokens)) => {
            tokens.token().await?;
            tokens.values()
        }
        _ => Vec::new(),
    };
    Requests::new(spec, connection, origin.as_deref(), &session)
}

impl Run<'_> {
    /// Every page of one listing, by the spec's pagination style.
    async fn listing(&mut self, pagination: &Pagination) -> Result<(), SyncError> {
        match pagination {
            Pagination::None => {
                let url = self.pages.requests.first();
                let body = self.pages.requests.body().cloned();
                self.fetch(url, body).await.map(drop)
            }
            Pagination::Offset(counted) => self.counted(counted, true).await,
            Pagination::PageNumber(counted) => self.counted(counted, false).await,
            Pagination::NextUrl { source, stop } => self.linked(Link::NextUrl(*source), stop).await,
            Pagination::Token { param, continue_path, source, stop } => {
                self.linked(Link::Token { param: *param, continue_path: *continue_path, source: *source }, stop).await
            }
        }
    }
}

/// One sync: how pages are fetched and read, and where they go.
struct Run<'r> {
    pages: Pages<'r>,
    handed: Handed<'r>,
    /// The most users the API lists through the spec's paging, per listing.
    max_users: Option<u64>,
}

/// How one page is fetched and read; shared by the requests in flight.
struct Pages<'r> {
    client: &'r Client,
    connector: Arc<dyn Connector>,
    requests: Requests<'r>,
    retry: &'r RetryPolicy,
    /// The most bytes of one answer read: the sync's bound over its window.
    answer_bytes: u64,
    /// For each lookup of the spec, the requests it may have in flight across the sync's pages.
    lookups: Vec<tokio::sync::Semaphore>,
    /// Lookup requests answered so far.
    looked_up: AtomicU64,
    /// Time pages waited for their lookups so far.
    lookup_nanos: AtomicU64,
    /// The listing these pages belong to, with its name, when not the users.
    listing: Option<(&'static ListingRequest, &'static str)>,
    /// What the spec's listings gave each user, read before the users.
    gathered: Gathered,
}

/// The pages asked for and handed on so far, and the sink that receives them in order.
struct Handed<'r> {
    max_pages: u32,
    /// Requests sent, those dropped unread included: what the page cap bounds.
    requested: u32,
    /// The number of the last page asked for, counting only pages that may be handed on.
    numbered: u32,
    sink: &'r mut (dyn FnMut(PageUsers) + Send),
    summary: SyncSummary,
    /// With several listings, the ids handed on so far: a user listed by more
    /// than one is kept as the first listing gave it.
    listed: Option<HashSet<compact_str::CompactString>>,
    /// For a listing read before the users, where each page's items go instead of the sink.
    gather: Option<&'r mut (dyn FnMut(Vec<Value>) + Send)>,
}

/// A counted page whose request is answered: its answer being read, or the
/// error that stands in its place in page order.
enum Arrived {
    Reading { task: tokio::task::JoinHandle<Result<Fetched, PageError>>, number: u32, url: Url },
    Failed(SyncError),
}

/// What a counted sync waits for next.
enum Next {
    /// The oldest page, read.
    Read(Result<Fetched, SyncError>, u64),
    /// The next answer in page order.
    Arrived(Arrived, u64),
}

/// A fetched page, read but not yet handed on.
struct Fetched {
    /// 1 for the first page.
    number: u32,
    info: PageInfo,
    headers: HeaderMap,
    users: PageUsers,
    /// A listing's items (none for a page of users).
    items: Vec<Value>,
}

enum Link {
    NextUrl(NextUrlSource),
    Token { param: TokenTarget, continue_path: Option<&'static str>, source: TokenSource },
}

impl<'r> Pages<'r> {
    fn new(
        client: &'r Client,
        connector: Arc<dyn Connector>,
        requests: Requests<'r>,
        retry: &'r RetryPolicy,
        answer_bytes: u64,
    ) -> Self {
        let spec = connector.spec();
        let lookups = spec.lookups.iter().map(|l| tokio::sync::Semaphore::new(l.concurrency.max(1) as usize)).collect();
        Pages {
            client,
            connector,
            requests,
            retry,
            answer_bytes,
            lookups,
            looked_up: AtomicU64::new(0),
            lookup_nanos: AtomicU64::new(0),
            listing: None,
            gathered: Gathered::default(),
        }
    }

    /// Sends one page's request and reads the page.
    async fn get(&self, url: Url, body: Option<&Value>, number: u32) -> Result<Fetched, SyncError> {
        self.get_after(url, body, number, 0).await
    }

    /// Sends one page's request and reads the page, `retries` times already
    /// asked again: an API error the spec classes as rate limiting (in a 200,
    /// which the HTTP retries do not see) is asked again with the same backoff.
    async fn get_after(
        &self,
        url: Url,
        body: Option<&Value>,
        number: u32,
        mut retries: u32,
    ) -> Result<Fetched, SyncError> {
        loop {
            let requests = &self.requests;
            let build = |token: Option<&Secret>| requests.build(self.client.http(), url.clone(), body, token);
            let answer = send(self.client, requests, &build, self.retry, self.answer_bytes).await?;
            let joined = self.join(&answer.body, number).await?;
            match read(self.connector.as_ref(), self.listing, answer, &joined, number) {
                Err(PageError::Api { kind: ApiErrorKind::RateLimited, .. }) if retries < self.retry.max_retries => {
                    tokio::time::sleep(self.retry.backoff(retries)).await;
                    retries += 1;
                }
                read => return read.map_err(|error| self.unreadable(error, number, &url)),
            }
        }
    }

    /// Sends one page's request; its answer is read on a worker thread, so
    /// the pages of a window are read in parallel, and while more are sent.
    async fn send_for_reading(&self, url: Url, number: u32) -> Arrived {
        let requests = &self.requests;
        let build = |token: Option<&Secret>| requests.build(self.client.http(), url.clone(), requests.body(), token);
        let answer = match send(self.client, requests, &build, self.retry, self.answer_bytes).await {
            Ok(answer) => answer,
            Err(error) => return Arrived::Failed(error),
        };
        let joined = match self.join(&answer.body, number).await {
            Ok(joined) => joined,
            Err(error) => return Arrived::Failed(error),
        };
        let (connector, listing) = (self.connector.clone(), self.listing);
        Arrived::Reading {
            task: tokio::spawn(async move { read(connector.as_ref(), listing, answer, &joined, number) }),
            number,
            url,
        }
    }

    /// Asks the lookups of each user a page lists, at most each lookup's concurrency at once
    /// across the sync: what the connector joins to the users.
    async fn join(&self, body: &[u8], number: u32) -> Result<Joined, SyncError> {
        self.join_first(body, usize::MAX, number).await
    }

    /// [`Pages::join`] for the first `most` users page `number` lists.
    async fn join_first(&self, body: &[u8], most: usize, number: u32) -> Result<Joined, SyncError> {
        let (lookups, listings) = (self.connector.spec().lookups, self.connector.spec().listings);
        if self.listing.is_some() || (lookups.is_empty() && listings.is_empty()) {
            return Ok(Joined::default());
        }
        let started = Instant::now();
        let mut keys = Vec::new();
        self.connector.lookup_keys(body, &mut |user| {
            if keys.len() < most {
                keys.push(user);
            }
        });
        let mut joined = Joined::new(keys.len(), lookups.len() + listings.len());
        for (index, listing) in listings.iter().enumerate() {
            for (item, keys) in keys.iter().enumerate() {
                let key = keys.get(listing.matches).and_then(Option::as_deref);
                if let Some(answer) = key.and_then(|key| self.gathered.answer(index, key)) {
                    joined.set(item, lookups.len() + index, answer);
                }
            }
        }
        let asks = lookups.iter().enumerate().flat_map(|(index, lookup)| self.asks(index, lookup, &keys));
        let mut asked: FuturesUnordered<_> = asks
            .map(|ask| async move {
                // The semaphores live as long as the sync and are never closed.
                let _permit = self.lookups[ask.lookup].acquire().await.ok();
                let answer = self.ask(&lookups[ask.lookup], ask.url.clone()).await;
                (ask, answer)
            })
            .collect();
        while let Some((ask, answer)) = asked.next().await {
            self.looked_up.fetch_add(1, Ordering::Relaxed);
            let Some(answer) = answer? else { continue };
            let lookup = &lookups[ask.lookup];
            match (&lookup.batch, ask.users.as_slice()) {
                (None, [item]) => joined.set(*item, ask.lookup, answer),
                (Some(batch), items) => {
                    for (item, found) in batched(lookup.name, batch, &answer, items, &keys)
                        .map_err(|error| self.unreadable(error, number, &ask.url))?
                    {
                        joined.set(item, ask.lookup, found);
                    }
                }
                (None, _) => unreachable!("an unbatched lookup asks for one user"),
            }
        }
        self.lookup_nanos.fetch_add(nanos(started.elapsed()), Ordering::Relaxed);
        Ok(joined)
    }

    /// The requests of one lookup for the listed users `keys`: one a user, or one a batch of users.
    fn asks(&self, lookup: usize, spec: &Lookup, keys: &[Vec<Option<compact_str::CompactString>>]) -> Vec<Ask> {
        let Some(batch) = &spec.batch else {
            return keys
                .iter()
                .enumerate()
                .filter_map(|(item, keys)| {
                    Some(Ask { lookup, url: self.requests.lookup_url(spec, keys)?, users: vec![item] })
                })
                .collect();
        };
        let valued: Vec<(usize, &str)> = keys
            .iter()
            .enumerate()
            .filter_map(|(item, keys)| Some((item, keys.get(batch.user)?.as_deref()?)))
            .collect();
        valued
            .chunks(batch.size.max(1) as usize)
            .filter_map(|chunk| {
                let values: Vec<&str> = chunk.iter().map(|(_, value)| *value).collect();
                let url = self.requests.batch_url(spec, batch, &values)?;
                Some(Ask { lookup, url, users: chunk.iter().map(|(item, _)| *item).collect() })
            })
            .collect()
    }

    /// One user's lookup: its answer, or none where a 404 means the user has nothing there.
    async fn ask(&self, lookup: &Lookup, url: Url) -> Result<Option<bytes::Bytes>, SyncError> {
        let requests = &self.requests;
        let build = |token: Option<&Secret>| requests.build_lookup(self.client.http(), lookup, url.clone(), token);
        match send(self.client, requests, &build, self.retry, self.answer_bytes).await {
            Ok(answer) => Ok(Some(answer.body)),
            Err(SyncError::Status { status: 404, .. }) if lookup.not_found_is_nothing => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The page, once read.
    async fn finish(&self, arrived: &mut Arrived) -> Result<Fetched, SyncError> {
        match arrived {
            Arrived::Reading { task, number, url } => match task.await {
                Ok(Err(PageError::Api { kind: ApiErrorKind::RateLimited, .. })) if self.retry.max_retries > 0 => {
                    tokio::time::sleep(self.retry.backoff(0)).await;
                    self.get_after(url.clone(), self.requests.body(), *number, 1).await
                }
                Ok(read) => read.map_err(|error| self.unreadable(error, *number, url)),
                Err(e) => Err(SyncError::Config(format!("the connector failed reading page {number}: {e}"))),
            },
            Arrived::Failed(error) => Err(error.clone()),
        }
    }

    /// A page that could not be read, named by its URL with the secrets redacted.
    fn unreadable(&self, error: PageError, page: u32, url: &Url) -> SyncError {
        let secrets = self.requests.secrets();
        SyncError::Page { page, url: secrets.redact(url.as_str()), error: error.redacted(secrets) }
    }
}

impl Handed<'_> {
    fn next_page_number(&mut self) -> Result<u32, SyncError> {
        if self.requested >= self.max_pages {
            return Err(SyncError::PageCap { max_pages: self.max_pages });
        }
        self.requested += 1;
        self.numbered += 1;
        Ok(self.numbered)
    }

    /// Forgets the pages asked for beyond those handed on: they are dropped unread.
    fn drop_unread(&mut self) {
        self.numbered = self.summary.pages;
    }

    fn deliver(&mut self, mut fetched: Fetched) -> Fetched {
        if let Some(listed) = &mut self.listed {
            fetched.users.users.retain(|user| listed.insert(user.external_id.clone()));
        }
        self.summary.pages += 1;
        self.summary.users += fetched.users.users.len() as u64;
        self.summary.dropped += fetched.users.dropped.len() as u64;
        match &mut self.gather {
            Some(gather) => gather(std::mem::take(&mut fetched.items)),
            None => (self.sink)(std::mem::take(&mut fetched.users)),
        }
        fetched
    }
}

impl Run<'_> {
    /// Fetches and hands on one page.
    async fn fetch(&mut self, url: Url, body: Option<Value>) -> Result<Fetched, SyncError> {
        let number = self.handed.next_page_number()?;
        let fetched = self.pages.get(url, body.as_ref(), number).await?;
        Ok(self.handed.deliver(fetched))
    }

    /// Offset/limit and page-number pagination. `concurrency` requests stay in
    /// flight; each answer is read on a worker thread as soon as it arrives,
    /// without holding a request slot; pages are handed on in order.
    async fn counted(&mut self, counted: &Counted, offsets: bool) -> Result<(), SyncError> {
        let (pages, handed) = (&self.pages, &mut self.handed);
        let page_size = u64::from(counted.page_size);
        let step = if offsets { page_size } else { 1 };
        let window = counted.concurrency.max(1) as usize;
        // Where the next request asks from, assuming every page before it is full.
        let mut ahead = counted.first;
        // Requests on the wire, then answers being read: both in page order,
        // and every page being read is older than every page on the wire.
        let mut in_flight = FuturesOrdered::new();
        let mut reading: VecDeque<(Arrived, u64)> = VecDeque::new();
        let mut received = 0u64;
        let mut seen = HashSet::new();
        // A page that would reach past the API's cap is never asked for: the API would refuse
        // it (PagerDuty answers 400, which reads as bad credentials) or answer it empty.
        let within_cap = |position: u64| {
            let pages_before = position.saturating_sub(counted.first) / step;
            self.max_users.is_none_or(|cap| (pages_before + 1) * page_size <= cap)
        };
        loop {
            // No request beyond the page cap is sent: the pages in flight may end the sync first.
            while in_flight.len() < window
                && reading.len() < window
                && handed.requested < handed.max_pages
                && within_cap(ahead)
            {
                let number = handed.next_page_number()?;
                let url = pages.requests.counted(counted, ahead);
                let position = ahead;
                in_flight.push_back(async move { (pages.send_for_reading(url, number).await, position) });
                ahead += step;
            }
            let next = tokio::select! {
                biased;
                (page, position) = oldest(pages, &mut reading), if !reading.is_empty() => Next::Read(page, position),
                Some((arrived, position)) = in_flight.next(), if !in_flight.is_empty() => Next::Arrived(arrived, position),
                else => return Err(match self.max_users {
                    Some(max_users) if !within_cap(ahead) => SyncError::Capped { max_users },
                    _ => SyncError::PageCap { max_pages: handed.max_pages },
                }),
            };
            let (page, this_position) = match next {
                Next::Arrived(arrived, position) => {
                    reading.push_back((arrived, position));
                    continue;
                }
                Next::Read(page, position) => (page, position),
            };
            let fetched = handed.deliver(page?);
            let count = fetched.info.count as u64;
            received += count;
            // A total the pages disagree with must not end the sync early, or the users never
            // listed would be marked deleted: every page must give one, and the pages must reach it.
            let total = if counted.stop.contains(&CountStop::Total) {
                Some(fetched.info.total.ok_or_else(|| SyncError::Total {
                    page: fetched.number,
                    detail: "the page gives no total, or one that is not a whole number of users".to_owned(),
                })?)
            } else {
                None
            };
            let stop = counted.stop.iter().any(|stop| match stop {
                CountStop::EmptyPage => count == 0,
                CountStop::ShortPage => count < page_size,
                CountStop::NoMore => fetched.info.more != Some(true),
                CountStop::Total => total.is_some_and(|total| received >= total),
            });
            if let Some(total) = total.filter(|total| received < *total)
                && (stop || count == 0)
            {
                return Err(SyncError::Total {
                    page: fetched.number,
                    detail: format!("the total says {total} users, but the pages ended after {received}"),
                });
            }
            if stop {
                return Ok(());
            }
            let position = if offsets { this_position + count } else { this_position + 1 };
            if !seen.insert(position) {
                return Err(SyncError::Repeated { page: fetched.number, what: "offset" });
            }
            // Pages after a short one were asked at offsets that assumed a full
            // page; they are dropped unread and asked again from where it ended.
            if offsets && count < page_size {
                in_flight.clear();
                reading.clear();
                handed.drop_unread();
                ahead = position;
            }
        }
    }

    /// Next-URL and token pagination: each page says where the next one is.
    async fn linked(&mut self, link: Link, stop: &[TokenStop]) -> Result<(), SyncError> {
        let mut url = self.pages.requests.first();
        let mut body = self.pages.requests.body().cloned();
        let mut seen = HashSet::new();
        let mut received = 0u64;
        loop {
            let fetched = self.fetch(url, body.take()).await?;
            received += fetched.info.count as u64;
            let first = seen.is_empty();
            let next = match &link {
                Link::NextUrl(NextUrlSource::Body) | Link::Token { source: TokenSource::Body, .. } => {
                    fetched.info.next.clone()
                }
                Link::NextUrl(NextUrlSource::LinkHeader) => {
                    fetched.headers.get_all(LINK).iter().filter_map(|v| v.to_str().ok()).find_map(link_next)
                }
                Link::Token { source: TokenSource::Header(name), .. } => fetched
                    .headers
                    .get(*name)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty()),
            };
            let stopped = stop.iter().any(|stop| match stop {
                TokenStop::MissingToken => next.is_none(),
                TokenStop::EmptyPage => fetched.info.count == 0,
                TokenStop::NoMore => fetched.info.more != Some(true),
            });
            if stopped {
                self.handed.summary.unlinked |= first && next.is_none();
                return Ok(());
            }
            if let Some(max_users) = self.max_users.filter(|cap| received >= *cap) {
                return Err(SyncError::Capped { max_users });
            }
            let Some(next) = next else { return Err(SyncError::NoNextPage { page: fetched.number }) };
            if !seen.insert(next.clone()) {
                let what = if matches!(link, Link::NextUrl(_)) { "next URL" } else { "token" };
                return Err(SyncError::Repeated { page: fetched.number, what });
            }
            let requests = &self.pages.requests;
            (url, body) = match &link {
                Link::NextUrl(_) => (requests.next(&next)?, requests.body().cloned()),
                Link::Token { param: TokenTarget::Query(param), .. } => {
                    let mut url = requests.first();
                    url.query_pairs_mut().append_pair(param, &next);
                    (url, requests.body().cloned())
                }
                Link::Token { param: TokenTarget::Body(keys), continue_path, .. } => match continue_path {
                    Some(path) => (requests.continued(path), Some(requests.token_body(keys, &next, true))),
                    None => (requests.first(), Some(requests.token_body(keys, &next, false))),
                },
            };
        }
    }
}

/// One request of a lookup, and the listed users (by place on the page) it asks for.
struct Ask {
    lookup: usize,
    url: Url,
    users: Vec<usize>,
}

/// A batched lookup's answer split into each user's item: the item whose value at the batch's key
/// is the user's. A user the answer holds no item for has nothing there.
fn batched(
    name: &'static str,
    batch: &crate::spec::Batch,
    answer: &[u8],
    users: &[usize],
    keys: &[Vec<Option<compact_str::CompactString>>],
) -> Result<Vec<(usize, bytes::Bytes)>, PageError> {
    let unreadable = |why: String| PageError::Lookup { lookup: name, user: users[0] + 1, error: why };
    let answer: Value = serde_json::from_slice(answer).map_err(|e| unreadable(e.to_string()))?;
    let items = batch
        .at
        .iter()
        .try_fold(&answer, |at, key| at.get(key))
        .and_then(Value::as_array)
        .ok_or_else(|| unreadable(format!("the answer holds no list at `{}`", batch.at.join("."))))?;
    let mut found = Vec::new();
    for item in items {
        let Some(key) = batch.key.iter().try_fold(item, |at, key| at.get(key)) else { continue };
        let key = match key {
            Value::String(text) => text.trim().to_owned(),
            Value::Number(number) => number.to_string(),
            _ => continue,
        };
        let whose = users.iter().filter(|user| keys[**user].get(batch.user).and_then(Option::as_deref) == Some(&key));
        let bytes = bytes::Bytes::from(serde_json::to_vec(item).unwrap_or_default());
        found.extend(whose.map(|user| (*user, bytes.clone())));
    }
    Ok(found)
}

/// The oldest page being read, once read; it stays queued if this is cancelled.
async fn oldest(pages: &Pages<'_>, reading: &mut VecDeque<(Arrived, u64)>) -> (Result<Fetched, SyncError>, u64) {
    let (arrived, position) = reading.front_mut().expect("called only with pages being read");
    let position = *position;
    let page = pages.finish(arrived).await;
    reading.pop_front();
    (page, position)
}

/// A request as built with the bearer token it carries, if any.
type Build<'b> = dyn Fn(Option<&Secret>) -> Result<reqwest::Request, SyncError> + Sync + 'b;

/// Sends one request (a page's or a lookup's), with OAuth's bearer token when the spec uses
/// OAuth: a 401 renews the token once and sends the request once more.
async fn send(
    client: &Client,
    requests: &Requests<'_>,
    build: &Build<'_>,
    retry: &RetryPolicy,
    max_bytes: u64,
) -> Result<http::Answer, SyncError> {
    let secrets = requests.secrets();
    let Some(tokens) = requests.tokens() else {
        return http::send(client, build(None)?, retry, secrets, max_bytes).await;
    };
    // An API may echo the token it was sent in an error body: it is redacted too.
    let token = tokens.token().await?;
    let shown = secrets.with_secret(token.expose());
    let first = http::send(client, build(Some(&token))?, retry, &shown, max_bytes).await;
    match first {
        Err(SyncError::Status { status: 401, .. }) => match tokens.renew(&token).await? {
            Some(renewed) => {
                let shown = secrets.with_secret(renewed.expose());
                http::send(client, build(Some(&renewed))?, retry, &shown, max_bytes).await
            }
            None => first,
        },
        other => other,
    }
}

/// Reads one page's answer (of users, or of `listing`); the users are not handed on yet.
fn read(
    connector: &dyn Connector,
    listing: Option<(&'static ListingRequest, &'static str)>,
    answer: http::Answer,
    joined: &Joined,
    number: u32,
) -> Result<Fetched, PageError> {
    if let Some((request, name)) = listing {
        let page = crate::listing::read(request, name, &answer.body)?;
        let users = PageUsers { number, ..PageUsers::default() };
        return Ok(Fetched { number, info: page.info, headers: answer.headers, users, items: page.items });
    }
    // Room for a full page from the start, so records are not copied as the vector grows.
    let expected = match &connector.spec().pagination {
        Pagination::Offset(counted) | Pagination::PageNumber(counted) => counted.page_size as usize,
        _ => 0,
    };
    let mut users = PageUsers { number, users: Vec::with_capacity(expected.min(1024)), dropped: Vec::new() };
    let info = connector.parse_joined(&answer.body, joined, &mut |user| match user {
        Ok(user) => users.users.push(user),
        Err(dropped) => users.dropped.push(dropped),
    })?;
    Ok(Fetched { number, info, headers: answer.headers, users, items: Vec::new() })
}

/// The lookups of the first `most` users a page's `body` lists, asked as a sync asks them: what a
/// person trying a spec sees joined to the users of its first page (the builder's preview).
pub async fn lookups(
    client: &Client,
    connector: Arc<dyn Connector>,
    connection: &Connection<'_>,
    body: &[u8],
    retry: &RetryPolicy,
    most: usize,
) -> Result<Joined, SyncError> {
    let spec = connector.spec();
    if spec.lookups.is_empty() && spec.listings.is_empty() {
        return Ok(Joined::default());
    }
    let client = &*client_for(client, spec, connection)?;
    let session = session(client, spec, connection, retry)?;
    let connection = &signed_in(connection, session.as_ref());
    let requests = requests(spec, connection).await?;
    let mut pages = Pages::new(client, connector, requests, retry, client.max_answer_bytes());
    pages.gathered = gather(&pages, SyncOptions::default().max_pages).await?.0;
    pages.join_first(body, most, 1).await
}

/// Reads every listing of the spec whole, before the users, sharing the users pages' client,
/// requests and bounds: what each gives each user, and the requests it took.
async fn gather(users: &Pages<'_>, max_pages: u32) -> Result<(Gathered, u64), SyncError> {
    let mut gathered = Gathered::default();
    let mut asked = 0;
    for listing in users.connector.spec().listings {
        let now = chrono::Utc::now();
        let mut held = Held::new(listing, now);
        let request = &listing.request;
        match &listing.kind {
            ListingKind::Members { members, .. } => {
                let mut groups = Vec::new();
                let requests = users.requests.for_listing(request, &[], None);
                asked += page_through(users, requests, listing.name, max_pages, &mut |items| {
                    groups.extend(crate::listing::groups(listing, items))
                })
                .await?;
                for group in groups {
                    // A group without a value its members request names cannot be asked for them.
                    let requests = users.requests.for_listing(members, &group.keys, None);
                    asked += page_through(users, requests, listing.name, max_pages, &mut |items| {
                        held.members(&group.kept, items)
                    })
                    .await?;
                }
            }
            ListingKind::Latest { since, days, .. } => {
                let start = crate::listing::window_start(now, *days);
                let since = since.map(|(param, format)| (param, crate::listing::written(start, format)));
                let since = since.as_ref().map(|(param, value)| (*param, value.as_str()));
                let requests = users.requests.for_listing(request, &[], since);
                asked += page_through(users, requests, listing.name, max_pages, &mut |items| held.take(items)).await?;
            }
            ListingKind::Items { .. } => {
                let requests = users.requests.for_listing(request, &[], None);
                asked += page_through(users, requests, listing.name, max_pages, &mut |items| held.take(items)).await?;
            }
        }
        gathered.push(held);
    }
    Ok((gathered, asked))
}

/// Every page of one listing, by its own pagination, each page's items handed to `gather`: the
/// pages it took. No requests (a value of the group missing): no pages.
async fn page_through(
    users: &Pages<'_>,
    requests: Option<Requests<'_>>,
    name: &'static str,
    max_pages: u32,
    gather: &mut (dyn FnMut(Vec<Value>) + Send),
) -> Result<u64, SyncError> {
    let Some(requests) = requests else { return Ok(0) };
    let Some(request) = requests.listing_request() else { return Ok(0) };
    let mut pages = Pages::new(users.client, users.connector.clone(), requests, users.retry, users.answer_bytes);
    pages.listing = Some((request, name));
    let handed = Handed {
        max_pages,
        requested: 0,
        numbered: 0,
        sink: &mut |_| {},
        summary: SyncSummary::default(),
        listed: None,
        gather: Some(gather),
    };
    let mut run = Run { pages, handed, max_users: None };
    run.listing(&request.pagination).await?;
    Ok(u64::from(run.handed.requested))
}

fn nanos(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

/// The first page's request, as sent, and its answer, unread: what
/// `compiler test` shows a spec author.
#[derive(Debug)]
pub struct Probe {
    pub method: &'static str,
    /// The URL as sent, secrets redacted.
    pub url: String,
    /// The headers as sent: sensitive values (auth) shown as `[redacted]`,
    /// secrets redacted from the others.
    pub headers: Vec<(String, String)>,
    /// The JSON body as sent (a POST's), secrets redacted.
    pub body: Option<String>,
    pub answer: Result<ProbeAnswer, SyncError>,
    /// What to redact from anything shown of the answer: the secret
    /// credentials as the request carried them, and its token.
    pub secrets: CredentialValues,
}

/// A successful answer to a probe.
#[derive(Debug)]
pub struct ProbeAnswer {
    pub status: u16,
    pub elapsed: std::time::Duration,
    /// The answer's headers; a cookie's value shown as `[redacted]`, secrets redacted from the others.
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
}

/// Sends the first page's request (with retries) and returns the answer as
/// it came; an error before anything was sent (a request that cannot be
/// built) is the outer one.
pub async fn probe(
    client: &Client,
    connector: &dyn Connector,
    connection: &Connection<'_>,
    retry: &RetryPolicy,
) -> Result<Probe, SyncError> {
    let client = &*client_for(client, connector.spec(), connection)?;
    let session = session(client, connector.spec(), connection, retry)?;
    let connection = &signed_in(connection, session.as_ref());
    let requests = requests(connector.spec(), connection).await?;
    // The probe shows the request as sent: with the token it will carry.
    let token = match requests.tokens() {
        Some(tokens) => Some(tokens.token().await?),
        None => None,
    };
    let request = requests.build(client.http(), requests.first_page(), requests.body(), token.as_ref())?;
    let secrets = match &token {
        Some(token) => requests.secrets().with_secret(token.expose()),
        None => requests.secrets().clone(),
    };
    let url = secrets.redact(request.url().as_str());
    let method = if request.method() == reqwest::Method::POST { "POST" } else { "GET" };
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let shown = if value.is_sensitive() {
                "[redacted]".to_owned()
            } else {
                secrets.redact(&String::from_utf8_lossy(value.as_bytes()))
            };
            (name.to_string(), shown)
        })
        .collect();
    let start = std::time::Instant::now();
    let answer =
        http::send(client, request, retry, &secrets, client.max_answer_bytes()).await.map(|answer| ProbeAnswer {
            status: answer.status,
            elapsed: start.elapsed(),
            headers: answer
                .headers
                .iter()
                .map(|(name, value)| {
                    let shown = if value.is_sensitive() || name == reqwest::header::SET_COOKIE {
                        "[redacted]".to_owned()
                    } else {
                        secrets.redact(&String::from_utf8_lossy(value.as_bytes()))
                    };
                    (name.to_string(), shown)
                })
                .collect(),
            body: answer.body,
        });
    let body = requests.body().map(|body| secrets.redact(&body.to_string()));
    Ok(Probe { method, url, headers, body, answer, secrets })
}
