//! The one job abstraction: a [`Worker`] is a thread that owns a [`Service`] (its state:
//! open files, a model worker) and serves requests one at a time.
//!
//! * **Newest request wins.** Every request has a lane: the submitter's `tag` and the
//!   service's [`Service::key`] of the request. A new request replaces the pending one of
//!   its lane (the old one never runs) and raises the cancel flag of the running one.
//! * **Stale replies are dropped.** [`Ctx::emit`] delivers nothing once a newer request of
//!   the same lane exists; [`Ctx::emit_even_if_stale`] is for results that stay true (a
//!   cache fill such as predictions for given peaks).
//! * **Cancel.** [`Worker::cancel`] (one request) and [`Worker::cancel_lane`] remove a pending
//!   request or raise the running one's flag; long work polls [`Ctx::cancelled`] or hands
//!   [`Ctx::cancel_flag`] to library code (`run_eval`, `ModelWorker::ism`).
//! * **Progress and typed events** travel as [`Reply`]s to the sink given at spawn time;
//!   every request ends with `Finished` (with `cancelled`) or `Failed` (the error text: the
//!   worker keeps serving).
//! * **Orderly shutdown.** [`Worker::shutdown`] (also on drop) cancels everything, wakes the
//!   thread and joins it; the service is dropped on its own thread, so models and tensors
//!   are freed by the thread that made them.
//!
//! [`TaskService`] turns the worker into a runner of boxed [`Task`]s over a shared
//! environment: the terminal UI's components define their own tasks this way.
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Numbers the requests of one worker, from 1; replies of the service's start use 0.
pub type RequestId = u64;

/// A message from a worker about one request.
#[derive(Debug)]
pub struct Reply<E> {
    pub id: RequestId,
    /// the submitter's tag (see [`Worker::submit_tagged`])
    pub tag: u64,
    pub kind: ReplyKind<E>,
}

#[derive(Debug, PartialEq)]
pub enum ReplyKind<E> {
    /// a typed result or partial result
    Event(E),
    Progress {
        done: usize,
        total: usize,
    },
    /// the request ended (`cancelled`: it stopped early)
    Finished {
        cancelled: bool,
    },
    /// the request (or the service's start, id 0) failed; the worker goes on serving
    Failed(String),
}

impl<E> ReplyKind<E> {
    pub fn map<F>(self, f: impl FnOnce(E) -> F) -> ReplyKind<F> {
        match self {
            ReplyKind::Event(e) => ReplyKind::Event(f(e)),
            ReplyKind::Progress { done, total } => ReplyKind::Progress { done, total },
            ReplyKind::Finished { cancelled } => ReplyKind::Finished { cancelled },
            ReplyKind::Failed(e) => ReplyKind::Failed(e),
        }
    }
}

/// The state a worker thread owns and the requests it serves.
pub trait Service: 'static {
    type Request: Send + 'static;
    type Event: Send + 'static;
    /// Requests of one submitter tag with the same key replace each other (newest wins).
    fn key(_req: &Self::Request) -> u64 {
        0
    }
    /// Serve one request on the worker thread. An error is reported as `Failed`.
    fn serve(&mut self, req: Self::Request, ctx: &Ctx<Self::Event>) -> Result<(), String>;
}

type Lane = (u64, u64);

struct Pending<R> {
    id: RequestId,
    lane: Lane,
    req: R,
}

struct Running {
    id: RequestId,
    lane: Lane,
    cancel: Arc<AtomicBool>,
}

struct State<R> {
    queue: VecDeque<Pending<R>>,
    running: Option<Running>,
    /// newest request id per lane: anything older is stale
    latest: HashMap<Lane, RequestId>,
    next_id: RequestId,
    shutdown: bool,
}

struct Inner<R> {
    state: Mutex<State<R>>,
    wake: Condvar,
}

impl<R> Inner<R> {
    fn lock(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_stale(&self, id: RequestId, lane: Lane) -> bool {
        id != 0 && self.lock().latest.get(&lane).is_some_and(|&l| l != id)
    }
}

type Sink<E> = Arc<dyn Fn(Reply<E>) + Send + Sync>;

/// What a request sees while it is served: its cancel flag, whether it went stale, and
/// where its replies go.
pub struct Ctx<'a, E> {
    id: RequestId,
    tag: u64,
    lane: Lane,
    cancel: &'a Arc<AtomicBool>,
    stale: &'a (dyn Fn(RequestId, Lane) -> bool + Sync),
    sink: &'a (dyn Fn(Reply<E>) + 'a),
}

impl<'a, E> Ctx<'a, E> {
    pub fn id(&self) -> RequestId {
        self.id
    }

    /// Cancel asked for: by a newer request of the lane, [`Worker::cancel`] or shutdown.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The cancel flag, for library code that polls one.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// A newer request of this lane exists.
    pub fn is_stale(&self) -> bool {
        (self.stale)(self.id, self.lane)
    }

    fn send(&self, kind: ReplyKind<E>) {
        (self.sink)(Reply { id: self.id, tag: self.tag, kind })
    }

    /// Send an event unless the request is stale; returns whether it was sent.
    pub fn emit(&self, ev: E) -> bool {
        if self.is_stale() {
            return false;
        }
        self.send(ReplyKind::Event(ev));
        true
    }

    /// Send an event that stays valid after a newer request (a cache fill).
    pub fn emit_even_if_stale(&self, ev: E) {
        self.send(ReplyKind::Event(ev))
    }

    /// Report progress (dropped when stale).
    pub fn progress(&self, done: usize, total: usize) -> bool {
        if self.is_stale() {
            return false;
        }
        self.send(ReplyKind::Progress { done, total });
        true
    }

    /// The same request seen through an event conversion (a task with its own event type
    /// running inside a service with another).
    pub fn map<F, T>(&self, f: impl Fn(F) -> E, body: impl FnOnce(&Ctx<'_, F>) -> T) -> T {
        let sink = |r: Reply<F>| (self.sink)(Reply { id: r.id, tag: r.tag, kind: r.kind.map(&f) });
        body(&Ctx { id: self.id, tag: self.tag, lane: self.lane, cancel: self.cancel, stale: self.stale, sink: &sink })
    }
}

/// A thread serving one [`Service`]; see the module documentation.
pub struct Worker<S: Service> {
    name: String,
    inner: Arc<Inner<S::Request>>,
    sink: Sink<S::Event>,
    thread: Option<JoinHandle<()>>,
}

impl<S: Service> Worker<S> {
    /// Start the thread. `start` builds the service on the new thread (so a model is loaded
    /// by, and stays with, the thread that uses it); an error is reported as `Failed` with
    /// id 0 and the worker then drops every request. Replies go to `sink`.
    pub fn spawn(
        name: &str,
        start: impl FnOnce(&Ctx<S::Event>) -> Result<S, String> + Send + 'static,
        sink: impl Fn(Reply<S::Event>) + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let inner = Arc::new(Inner {
            state: Mutex::new(State { queue: VecDeque::new(), running: None, latest: HashMap::new(), next_id: 1, shutdown: false }),
            wake: Condvar::new(),
        });
        let sink: Sink<S::Event> = Arc::new(sink);
        let thread = {
            let (inner, sink, name) = (inner.clone(), sink.clone(), name.to_string());
            std::thread::Builder::new().name(name.clone()).spawn(move || serve_loop::<S>(&name, &inner, &*sink, start))?
        };
        Ok(Worker { name: name.to_string(), inner, sink, thread: Some(thread) })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Submit with tag 0.
    pub fn submit(&self, req: S::Request) -> RequestId {
        self.submit_tagged(0, req)
    }

    /// Submit a request; its replies carry `tag`. It replaces the pending request of its
    /// lane and cancels the running one.
    pub fn submit_tagged(&self, tag: u64, req: S::Request) -> RequestId {
        let lane = (tag, S::key(&req));
        let mut st = self.inner.lock();
        if st.shutdown {
            return 0;
        }
        let id = st.next_id;
        st.next_id += 1;
        st.latest.insert(lane, id);
        if let Some(r) = st.running.as_ref().filter(|r| r.lane == lane) {
            r.cancel.store(true, Ordering::Relaxed);
        }
        match st.queue.iter_mut().find(|p| p.lane == lane) {
            Some(p) => *p = Pending { id, lane, req },
            None => st.queue.push_back(Pending { id, lane, req }),
        }
        drop(st);
        self.inner.wake.notify_all();
        id
    }

    /// Cancel one request: a pending one is removed (and reported `Finished { cancelled }`),
    /// a running one has its flag raised. Returns whether it was found.
    pub fn cancel(&self, id: RequestId) -> bool {
        self.cancel_where(|p_id, _| p_id == id)
    }

    /// Cancel the pending and running requests of a lane (submitter tag and key).
    pub fn cancel_lane(&self, tag: u64, key: u64) -> bool {
        self.cancel_where(|_, lane| lane == (tag, key))
    }

    fn cancel_where(&self, hit: impl Fn(RequestId, Lane) -> bool) -> bool {
        let mut st = self.inner.lock();
        let mut found = false;
        if let Some(r) = st.running.as_ref().filter(|r| hit(r.id, r.lane)) {
            r.cancel.store(true, Ordering::Relaxed);
            found = true;
        }
        let mut removed = Vec::new();
        st.queue.retain(|p| {
            let h = hit(p.id, p.lane);
            if h {
                removed.push((p.id, p.lane.0));
            }
            !h
        });
        drop(st);
        for (id, tag) in removed {
            found = true;
            (self.sink)(Reply { id, tag, kind: ReplyKind::Finished { cancelled: true } });
        }
        found
    }

    /// A request is running or waiting.
    pub fn is_busy(&self) -> bool {
        let st = self.inner.lock();
        st.running.is_some() || !st.queue.is_empty()
    }

    /// Cancel everything, wake the thread and join it. Returns false if the thread had
    /// panicked. Idempotent.
    pub fn shutdown(&mut self) -> bool {
        {
            let mut st = self.inner.lock();
            st.shutdown = true;
            st.queue.clear();
            if let Some(r) = &st.running {
                r.cancel.store(true, Ordering::Relaxed);
            }
        }
        self.inner.wake.notify_all();
        match self.thread.take() {
            Some(t) => t.join().is_ok(),
            None => true,
        }
    }
}

impl<S: Service> Drop for Worker<S> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn panic_text(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_else(|| "unknown panic".into())
}

fn serve_loop<S: Service>(
    name: &str,
    inner: &Inner<S::Request>,
    sink: &(dyn Fn(Reply<S::Event>) + Send + Sync),
    start: impl FnOnce(&Ctx<S::Event>) -> Result<S, String>,
) {
    let stale = |id: RequestId, lane: Lane| inner.is_stale(id, lane);
    let start_flag = Arc::new(AtomicBool::new(false));
    let start_ctx = Ctx { id: 0, tag: 0, lane: (0, 0), cancel: &start_flag, stale: &stale, sink };
    let mut service = match catch_unwind(AssertUnwindSafe(|| start(&start_ctx))) {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::error!("{name}: {e}");
            sink(Reply { id: 0, tag: 0, kind: ReplyKind::Failed(e) });
            return;
        }
        Err(p) => {
            let e = format!("{name} panicked while starting: {}", panic_text(&*p));
            tracing::error!("{e}");
            sink(Reply { id: 0, tag: 0, kind: ReplyKind::Failed(e) });
            return;
        }
    };
    loop {
        let (job, cancel) = {
            let mut st = inner.lock();
            loop {
                if st.shutdown {
                    // the service (models, open files) is dropped here, on its own thread
                    drop(st);
                    drop(service);
                    return;
                }
                if let Some(p) = st.queue.pop_front() {
                    let cancel = Arc::new(AtomicBool::new(false));
                    st.running = Some(Running { id: p.id, lane: p.lane, cancel: cancel.clone() });
                    break (p, cancel);
                }
                st = inner.wake.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        };
        let Pending { id, lane, req } = job;
        let ctx = Ctx { id, tag: lane.0, lane, cancel: &cancel, stale: &stale, sink };
        let outcome = catch_unwind(AssertUnwindSafe(|| service.serve(req, &ctx)));
        inner.lock().running = None;
        let is_stale = ctx.is_stale();
        match outcome {
            Ok(Ok(())) if !is_stale => ctx.send(ReplyKind::Finished { cancelled: ctx.cancelled() }),
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!("{name}: {e}");
                if !is_stale {
                    ctx.send(ReplyKind::Failed(e));
                }
            }
            Err(p) => {
                // the service's state may be broken: report and stop serving
                let e = format!("{name} panicked: {}", panic_text(&*p));
                tracing::error!("{e}");
                ctx.send(ReplyKind::Failed(e));
                let mut st = inner.lock();
                st.queue.clear();
                st.shutdown = true;
                drop(st);
                drop(service);
                return;
            }
        }
    }
}

/// A unit of work for a [`TaskService`]: it runs on the worker's thread with the service's
/// environment and sends events of type `E`.
pub trait Task<Env, E>: Send + 'static {
    /// Tasks of one submitter with the same key replace each other (newest wins).
    fn key(&self) -> u64 {
        0
    }
    fn run(self: Box<Self>, env: &mut Env, ctx: &Ctx<E>) -> Result<(), String>;
    /// The task itself, for inspection (tests look at what a component asked for).
    fn as_any(&self) -> &dyn Any;
}

/// A service that runs boxed [`Task`]s over an environment `Env`.
pub struct TaskService<Env, E> {
    pub env: Env,
    _events: std::marker::PhantomData<fn() -> E>,
}

impl<Env, E> TaskService<Env, E> {
    pub fn new(env: Env) -> Self {
        TaskService { env, _events: std::marker::PhantomData }
    }
}

impl<Env: 'static, E: Send + 'static> Service for TaskService<Env, E> {
    type Request = Box<dyn Task<Env, E>>;
    type Event = E;
    fn key(req: &Self::Request) -> u64 {
        req.key()
    }
    fn serve(&mut self, req: Self::Request, ctx: &Ctx<E>) -> Result<(), String> {
        req.run(&mut self.env, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
    use std::time::Duration;

    /// A service whose requests wait for a gate, then emit their value (or fail on odd
    /// values when asked), counting the requests it served; it records its own drop.
    struct Gated {
        gate: Receiver<()>,
        served: Arc<Mutex<Vec<u32>>>,
        dropped_on: Arc<Mutex<Option<String>>>,
    }

    enum Req {
        Wait(u64, u32),
        Cacheable(u64, u32),
        Fail(u64),
        UntilCancelled(u64),
        Panic,
    }

    impl Drop for Gated {
        fn drop(&mut self) {
            *self.dropped_on.lock().unwrap() = std::thread::current().name().map(str::to_string);
        }
    }

    impl Service for Gated {
        type Request = Req;
        type Event = u32;
        fn key(r: &Req) -> u64 {
            match r {
                Req::Wait(k, _) | Req::Cacheable(k, _) | Req::Fail(k) | Req::UntilCancelled(k) => *k,
                Req::Panic => 99,
            }
        }
        fn serve(&mut self, req: Req, ctx: &Ctx<u32>) -> Result<(), String> {
            match req {
                Req::Wait(_, v) => {
                    let _ = self.gate.recv_timeout(Duration::from_secs(5));
                    self.served.lock().unwrap().push(v);
                    ctx.progress(1, 2);
                    ctx.emit(v);
                    Ok(())
                }
                Req::Cacheable(_, v) => {
                    let _ = self.gate.recv_timeout(Duration::from_secs(5));
                    self.served.lock().unwrap().push(v);
                    ctx.emit_even_if_stale(v);
                    Ok(())
                }
                Req::Fail(_) => Err("no such thing".into()),
                Req::UntilCancelled(_) => {
                    let t = std::time::Instant::now();
                    while !ctx.cancelled() && t.elapsed() < Duration::from_secs(5) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    ctx.emit(if ctx.cancelled() { 1 } else { 0 });
                    Ok(())
                }
                Req::Panic => panic!("boom"),
            }
        }
    }

    struct Rig {
        worker: Worker<Gated>,
        gate: Sender<()>,
        replies: Receiver<Reply<u32>>,
        served: Arc<Mutex<Vec<u32>>>,
        dropped_on: Arc<Mutex<Option<String>>>,
    }

    fn rig() -> Rig {
        let (gate_tx, gate) = unbounded();
        let (tx, replies) = unbounded();
        let served = Arc::new(Mutex::new(Vec::new()));
        let dropped_on = Arc::new(Mutex::new(None));
        let (s, d) = (served.clone(), dropped_on.clone());
        let worker = Worker::spawn(
            "test-worker",
            move |_| Ok(Gated { gate, served: s, dropped_on: d }),
            move |r| {
                let _ = tx.send(r);
            },
        )
        .unwrap();
        Rig { worker, gate: gate_tx, replies, served, dropped_on }
    }

    /// Replies until `Finished`/`Failed` of request `id`.
    fn until_end(rx: &Receiver<Reply<u32>>, id: RequestId) -> Vec<Reply<u32>> {
        let mut out = Vec::new();
        loop {
            let r = rx.recv_timeout(Duration::from_secs(10)).expect("a reply");
            let end = r.id == id && matches!(r.kind, ReplyKind::Finished { .. } | ReplyKind::Failed(_));
            out.push(r);
            if end {
                return out;
            }
        }
    }

    fn wait_running(w: &Worker<Gated>) {
        let t = std::time::Instant::now();
        while w.inner.lock().running.is_none() {
            assert!(t.elapsed() < Duration::from_secs(5), "request never started");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn newest_pending_request_replaces_older_and_stale_replies_are_dropped() {
        let r = rig();
        let a = r.worker.submit(Req::Wait(0, 1));
        wait_running(&r.worker);
        // while a runs: b and c queue in a's lane; c replaces b, and a goes stale
        let b = r.worker.submit(Req::Wait(0, 2));
        let c = r.worker.submit(Req::Wait(0, 3));
        assert!(a < b && b < c);
        for _ in 0..2 {
            r.gate.send(()).unwrap();
        }
        let replies = until_end(&r.replies, c);
        assert_eq!(*r.served.lock().unwrap(), vec![1, 3], "b never ran");
        assert!(replies.iter().all(|x| x.id != a && x.id != b), "nothing from the stale request a or the replaced b");
        let kinds: Vec<&ReplyKind<u32>> = replies.iter().map(|x| &x.kind).collect();
        assert_eq!(kinds, vec![&ReplyKind::Progress { done: 1, total: 2 }, &ReplyKind::Event(3), &ReplyKind::Finished { cancelled: false }]);
    }

    #[test]
    fn lanes_are_independent_and_cache_fills_survive_staleness() {
        let r = rig();
        let a = r.worker.submit_tagged(7, Req::Cacheable(1, 10));
        wait_running(&r.worker);
        let b = r.worker.submit_tagged(7, Req::Cacheable(1, 11));
        // another key and another tag: neither replaces the other
        let c = r.worker.submit_tagged(7, Req::Wait(2, 20));
        let d = r.worker.submit_tagged(8, Req::Wait(1, 30));
        for _ in 0..4 {
            r.gate.send(()).unwrap();
        }
        let replies = until_end(&r.replies, d);
        assert_eq!(*r.served.lock().unwrap(), vec![10, 11, 20, 30]);
        let events: Vec<(RequestId, u64, u32)> =
            replies.iter().filter_map(|x| if let ReplyKind::Event(v) = x.kind { Some((x.id, x.tag, v)) } else { None }).collect();
        assert_eq!(events, vec![(a, 7, 10), (b, 7, 11), (c, 7, 20), (d, 8, 30)], "the stale cache fill of a is still delivered");
    }

    #[test]
    fn cancel_is_honoured_for_running_and_pending_requests() {
        let r = rig();
        // a newer request in the lane raises the running one's flag
        let a = r.worker.submit(Req::UntilCancelled(5));
        wait_running(&r.worker);
        let b = r.worker.submit(Req::Fail(5));
        let replies = until_end(&r.replies, b);
        assert!(replies.iter().all(|x| x.id != a), "a went stale: its events and end are dropped");
        assert_eq!(replies.last().unwrap().kind, ReplyKind::Failed("no such thing".into()), "a failure is reported and the worker goes on");
        // explicit cancel of a running request
        let c = r.worker.submit(Req::UntilCancelled(6));
        wait_running(&r.worker);
        assert!(r.worker.cancel(c));
        let replies = until_end(&r.replies, c);
        let kinds: Vec<&ReplyKind<u32>> = replies.iter().map(|x| &x.kind).collect();
        assert_eq!(kinds, vec![&ReplyKind::Event(1), &ReplyKind::Finished { cancelled: true }]);
        // cancel of a pending request: removed before it runs
        let d = r.worker.submit(Req::Wait(7, 70));
        wait_running(&r.worker);
        let e = r.worker.submit_tagged(3, Req::Wait(8, 80));
        assert!(r.worker.cancel_lane(3, 8));
        let x = r.replies.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((x.id, x.tag, x.kind), (e, 3, ReplyKind::Finished { cancelled: true }));
        r.gate.send(()).unwrap();
        until_end(&r.replies, d);
        assert_eq!(*r.served.lock().unwrap(), vec![70], "the cancelled pending request never ran");
        assert!(!r.worker.cancel(12345));
    }

    #[test]
    fn shutdown_cancels_and_joins_and_drops_the_service_on_its_thread() {
        let mut r = rig();
        r.worker.submit(Req::UntilCancelled(0));
        wait_running(&r.worker);
        r.worker.submit_tagged(1, Req::Wait(0, 5));
        let t = std::time::Instant::now();
        assert!(r.worker.shutdown());
        assert!(t.elapsed() < Duration::from_secs(4), "shutdown cancelled the running request instead of waiting it out");
        assert!(r.worker.thread.is_none());
        assert_eq!(r.dropped_on.lock().unwrap().as_deref(), Some("test-worker"), "the service is dropped by the worker thread");
        assert!(r.served.lock().unwrap().is_empty(), "the pending request was dropped");
        assert_eq!(r.worker.submit(Req::Wait(0, 1)), 0, "a stopped worker takes nothing");
        assert!(r.worker.shutdown(), "idempotent");
    }

    #[test]
    fn a_panicking_request_is_reported_and_a_failed_start_says_why() {
        let mut r = rig();
        let id = r.worker.submit(Req::Panic);
        let replies = until_end(&r.replies, id);
        assert!(matches!(&replies.last().unwrap().kind, ReplyKind::Failed(e) if e.contains("test-worker panicked: boom")));
        assert!(r.worker.shutdown(), "the panic was caught: the thread ended normally");

        let (tx, rx) = bounded(4);
        let mut w = Worker::<Gated>::spawn(
            "broken",
            |_| Err("cannot open models.pt".into()),
            move |r| {
                let _ = tx.send(r);
            },
        )
        .unwrap();
        let first = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((first.id, first.kind), (0, ReplyKind::Failed("cannot open models.pt".into())));
        assert!(w.shutdown());
    }

    struct Double(u32);
    impl Task<u32, u32> for Double {
        fn run(self: Box<Self>, env: &mut u32, ctx: &Ctx<u32>) -> Result<(), String> {
            *env += 1;
            ctx.map(|x: u64| x as u32, |c| c.emit(2 * self.0 as u64 + *env as u64));
            Ok(())
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    #[test]
    fn task_services_run_boxed_tasks_over_their_environment() {
        let (tx, rx) = unbounded();
        let w = Worker::<TaskService<u32, u32>>::spawn(
            "tasks",
            |_| Ok(TaskService::new(0)),
            move |r| {
                let _ = tx.send(r);
            },
        )
        .unwrap();
        let id = w.submit(Box::new(Double(20)));
        let replies = until_end(&rx, id);
        assert_eq!(replies[0].kind, ReplyKind::Event(41));
        assert!(Double(3).as_any().downcast_ref::<Double>().is_some_and(|d| d.0 == 3));
    }
}
