//! A reverse proxy on loopback in front of a real registry that fails on purpose: 5xx before or
//! after the registry acted, connections reset (RST) before or after, slow answers, 429 with
//! `Retry-After`. Every decision comes from one seeded generator. It can also call a trip wire at
//! the N-th request (the kill tests SIGKILL the client there), and count what it forwarded.
//! Stopped when dropped.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Notify;

/// How often each fault happens (each a probability per request; the rest pass untouched).
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultMix {
    /// 500/502/503 without forwarding.
    pub error_before: f64,
    /// Forwarded (the registry acted), then answered 502/503.
    pub error_after: f64,
    /// Connection reset without forwarding.
    pub reset_before: f64,
    /// Forwarded (the registry acted), then the connection is reset.
    pub reset_after: f64,
    /// 429 with `Retry-After: 0` or `1`, without forwarding.
    pub rate_limited: f64,
    /// Forwarded after 50–300 ms.
    pub slow: f64,
    /// Added to every request (a slow registry).
    pub latency: Duration,
}

impl FaultMix {
    /// Every fault, each on a few percent of requests.
    pub fn hostile() -> FaultMix {
        FaultMix {
            error_before: 0.05,
            error_after: 0.04,
            reset_before: 0.04,
            reset_after: 0.04,
            rate_limited: 0.05,
            slow: 0.08,
            latency: Duration::ZERO,
        }
    }

    /// The same faults, each `factor` times as likely.
    pub fn scaled(self, factor: f64) -> FaultMix {
        FaultMix {
            error_before: self.error_before * factor,
            error_after: self.error_after * factor,
            reset_before: self.reset_before * factor,
            reset_after: self.reset_after * factor,
            rate_limited: self.rate_limited * factor,
            slow: self.slow * factor,
            latency: self.latency,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Pass,
    ErrorBefore(u16),
    ErrorAfter(u16),
    ResetBefore,
    ResetAfter,
    RateLimited(u32),
    Slow(Duration),
}

impl Fault {
    fn label(self) -> &'static str {
        match self {
            Fault::Pass => "pass",
            Fault::ErrorBefore(_) => "5xx-before",
            Fault::ErrorAfter(_) => "5xx-after",
            Fault::ResetBefore => "reset-before",
            Fault::ResetAfter => "reset-after",
            Fault::RateLimited(_) => "429",
            Fault::Slow(_) => "slow",
        }
    }
}

/// Called once, when request number `at` (1-based) has been forwarded, before it is answered.
pub type Trip = (u64, Box<dyn FnOnce() + Send>);

struct State {
    upstream: String,
    base: String,
    http: reqwest::Client,
    rng: Mutex<StdRng>,
    mix: Mutex<FaultMix>,
    requests: AtomicU64,
    seen: Mutex<BTreeMap<&'static str, u64>>,
    methods: Mutex<BTreeMap<String, u64>>,
    trip: Mutex<Option<Trip>>,
}

/// The proxy; its URL goes where the registry's would.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (e.g. `http://127.0.0.1:5000`) with faults drawn from `seed`.
    pub async fn start(upstream: &str, seed: u64, mix: FaultMix) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_owned(),
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            mix: Mutex::new(mix),
            requests: AtomicU64::new(0),
            seen: Mutex::new(BTreeMap::new()),
            methods: Mutex::new(BTreeMap::new()),
            trip: Mutex::new(None),
        });
        let task = tokio::spawn(accept(listener, state.clone()));
        FaultProxy { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `host:port`, as a project's `registry` names it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Changes the faults from the next request on.
    pub fn set_mix(&self, mix: FaultMix) {
        *self.state.mix.lock().unwrap() = mix;
    }

    /// Arms the trip wire (see [`Trip`]), counting from the next request.
    pub fn trip_after(&self, requests: u64, action: Box<dyn FnOnce() + Send>) {
        let at = self.requests() + requests;
        *self.state.trip.lock().unwrap() = Some((at, action));
    }

    /// Disarms the trip wire; whether it was still armed (had not fired).
    pub fn disarm(&self) -> bool {
        self.state.trip.lock().unwrap().take().is_some()
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// How many requests met each fault (and `pass`).
    pub fn faults_seen(&self) -> BTreeMap<&'static str, u64> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Requests forwarded per method.
    pub fn methods_forwarded(&self) -> BTreeMap<String, u64> {
        self.state.methods.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: tokio::net::TcpListener, state: Arc<State>) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        // Every close of a proxy connection is an RST: a reset is the connection dropped.
        let _ = stream.set_zero_linger();
        let reset = Arc::new(Notify::new());
        let service = {
            let (state, reset) = (state.clone(), reset.clone());
            service_fn(move |request| handle(state.clone(), reset.clone(), request))
        };
        connections.spawn(async move {
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                () = reset.notified() => {}
            }
        });
    }
}

type Answer = Result<Response<Full<Bytes>>, std::convert::Infallible>;

/// The fault for the next request. A request the draw lets pass is given, one time in five, the
/// first kind of fault not injected yet, so that even a short test meets every kind.
fn draw(state: &State) -> Fault {
    let mix = *state.mix.lock().unwrap();
    let mut rng = state.rng.lock().unwrap();
    let drawn = by_probability(&mix, &mut rng);
    if drawn != Fault::Pass || !rng.random_bool(0.2) {
        return drawn;
    }
    let seen = state.seen.lock().unwrap();
    let kinds = [
        (mix.error_before, Fault::ErrorBefore(503)),
        (mix.error_after, Fault::ErrorAfter(502)),
        (mix.reset_before, Fault::ResetBefore),
        (mix.reset_after, Fault::ResetAfter),
        (mix.rate_limited, Fault::RateLimited(0)),
        (mix.slow, Fault::Slow(Duration::from_millis(100))),
    ];
    kinds
        .into_iter()
        .find(|(p, kind)| *p > 0.0 && !seen.contains_key(kind.label()))
        .map_or(drawn, |(_, kind)| kind)
}

fn by_probability(mix: &FaultMix, rng: &mut StdRng) -> Fault {
    let mut roll: f64 = rng.random();
    let mut next = |p: f64| {
        let hit = roll < p;
        roll -= p;
        hit
    };
    if next(mix.error_before) {
        Fault::ErrorBefore([500, 502, 503][rng.random_range(0..3)])
    } else if next(mix.error_after) {
        Fault::ErrorAfter([502, 503][rng.random_range(0..2)])
    } else if next(mix.reset_before) {
        Fault::ResetBefore
    } else if next(mix.reset_after) {
        Fault::ResetAfter
    } else if next(mix.rate_limited) {
        // Mostly "try again now", sometimes "in one second".
        Fault::RateLimited(u32::from(rng.random_bool(0.15)))
    } else if next(mix.slow) {
        Fault::Slow(Duration::from_millis(rng.random_range(50..=300)))
    } else {
        Fault::Pass
    }
}

async fn handle(state: Arc<State>, reset: Arc<Notify>, request: Request<Incoming>) -> Answer {
    let number = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let fault = draw(&state);
    *state.seen.lock().unwrap().entry(fault.label()).or_default() += 1;
    let latency = state.mix.lock().unwrap().latency;
    tokio::time::sleep(latency).await;
    match fault {
        Fault::ErrorBefore(status) => return Ok(status_only(status)),
        Fault::RateLimited(wait) => {
            let mut answer = status_only(429);
            let value = wait.to_string().parse().expect("header value");
            answer.headers_mut().insert("retry-after", value);
            return Ok(answer);
        }
        Fault::ResetBefore => return reset_now(&reset).await,
        Fault::Slow(wait) => tokio::time::sleep(wait).await,
        _ => {}
    }
    let answer = forward(&state, request).await;
    spring_trip(&state, number);
    match fault {
        Fault::ErrorAfter(status) => Ok(status_only(status)),
        Fault::ResetAfter => reset_now(&reset).await,
        _ => Ok(answer),
    }
}

/// Runs the trip wire if request `number` is the one it waits for.
fn spring_trip(state: &State, number: u64) {
    let mut trip = state.trip.lock().unwrap();
    if trip.as_ref().is_some_and(|(at, _)| number >= *at) {
        let (_, action) = trip.take().expect("armed");
        drop(trip);
        action();
    }
}

async fn reset_now(reset: &Notify) -> Answer {
    reset.notify_one();
    std::future::pending().await
}

fn status_only(status: u16) -> Response<Full<Bytes>> {
    let mut answer = Response::new(Full::new(Bytes::from_static(b"{\"errors\":[]}")));
    *answer.status_mut() = StatusCode::from_u16(status).expect("status");
    answer
}

/// Sends the request to the registry and returns its answer, with upload `Location`s pointing
/// back at the proxy.
async fn forward(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    *state
        .methods
        .lock()
        .unwrap()
        .entry(request.method().to_string())
        .or_default() += 1;
    forward_to(&state.http, &state.upstream, &state.base, request).await
}

/// Sends `request` to `upstream` (hop-by-hop headers dropped) and returns its answer, with
/// `Location`s on `upstream` rewritten onto `base` (the front the client talks to); 502 when the
/// upstream cannot be reached.
pub async fn forward_to<B>(
    http: &reqwest::Client,
    upstream: &str,
    base: &str,
    request: Request<B>,
) -> Response<Full<Bytes>>
where
    B: hyper::body::Body,
{
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = http.request(parts.method.clone(), format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if !["host", "connection", "content-length", "transfer-encoding"].contains(&name.as_str()) {
            outgoing = outgoing.header(name, value);
        }
    }
    let reply = match outgoing.body(body).send().await {
        Ok(reply) => reply,
        Err(_) => return status_only(502),
    };
    let mut answer = Response::builder().status(reply.status().as_u16());
    for (name, value) in reply.headers() {
        if ["connection", "transfer-encoding"].contains(&name.as_str()) {
            continue;
        }
        match (name.as_str(), value.to_str()) {
            ("location", Ok(location)) => {
                answer = answer.header(name, location.replace(upstream, base));
            }
            _ => answer = answer.header(name, value),
        }
    }
    let bytes = reply.bytes().await.unwrap_or_default();
    answer.body(Full::new(bytes)).expect("response")
}
