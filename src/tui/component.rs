//! The component contract. A component owns its state, reacts to [`Event`]s in
//! [`Component::update`] (returning the [`Job`]s it needs run) and draws in
//! [`Component::draw`], which only draws. Its jobs are [`Task`]s it defines itself, run on
//! one of the UI's worker threads ([`Thread`]); their replies come back to it, typed as
//! its own [`Component::Event`]. The App sees components through [`DynComponent`], which
//! this module implements for every [`Component`].
use super::commands::Action;
use super::shared::Shared;
use crate::jobs::remote::ModelClient;
use crate::jobs::view::Reader;
use crate::jobs::worker::{Ctx, ReplyKind, Task};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use std::any::Any;

/// A component's event, boxed while it travels from a worker thread to the component.
pub type AnyEvent = Box<dyn Any + Send>;

/// The UI's worker threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thread {
    /// bigWig reads (the track loader)
    Reader,
    /// the models (predictions, ISM), through the model server process
    Predictor,
    /// long runs with their own resources (the evaluation)
    Background,
    /// the peak index: per-track calls, specificity and heights of every peak (built once,
    /// then read from its cache)
    Index,
}

/// Work a component asks for; replies of type `E` come back to it.
pub enum Job<E> {
    Read(Box<dyn Task<Reader, E>>),
    Model(Box<dyn Task<ModelClient, E>>),
    Background(Box<dyn Task<(), E>>),
    Index(Box<dyn Task<(), E>>),
    /// cancel this component's running or pending task with this key
    Cancel(Thread, u64),
}

impl<E: 'static> Job<E> {
    pub fn thread(&self) -> Thread {
        match self {
            Job::Read(_) => Thread::Reader,
            Job::Model(_) => Thread::Predictor,
            Job::Background(_) => Thread::Background,
            Job::Index(_) => Thread::Index,
            Job::Cancel(t, _) => *t,
        }
    }

    /// The task, if it is a `T` (tests look at what a component asked for).
    pub fn task<T: 'static>(&self) -> Option<&T> {
        match self {
            Job::Read(t) => t.as_any().downcast_ref(),
            Job::Model(t) => t.as_any().downcast_ref(),
            Job::Background(t) | Job::Index(t) => t.as_any().downcast_ref(),
            Job::Cancel(..) => None,
        }
    }
}

/// What a component reacts to.
pub enum Event<E> {
    /// a command with its count (1 unless the command takes one)
    Command(Action, usize),
    /// the shared view changed (locus, size, selection, models), or the component's panel
    /// was opened: ask for what is missing
    Refresh,
    /// a reply to one of this component's jobs
    Reply(ReplyKind<E>),
}

/// The result of [`Component::update`].
pub enum Outcome<E> {
    /// not this component's command: offer it to the next one
    Ignored,
    /// handled; run these jobs
    Done(Vec<Job<E>>),
}

impl<E> Outcome<E> {
    pub fn none() -> Self {
        Outcome::Done(Vec::new())
    }
    pub fn one(job: Job<E>) -> Self {
        Outcome::Done(vec![job])
    }
}

pub trait Component: Any {
    /// Replies of this component's tasks.
    type Event: Send + 'static;
    /// Unique name: a panel is saved in sessions under it.
    const NAME: &'static str;
    /// A panel under the tracks (cycled with Tab); otherwise the main view.
    const PANEL: bool;
    fn update(&mut self, ev: Event<Self::Event>, shared: &mut Shared) -> Outcome<Self::Event>;
    /// Draw into `area` (only draws: no state change, no IO).
    fn draw(&self, area: Rect, buf: &mut Buffer, shared: &Shared);
    /// What it has running, for the header ("ISM 120/3000").
    fn activity(&self) -> Option<String> {
        None
    }
}

/// A [`Component`] with its event type erased, as the App holds it.
pub trait DynComponent {
    fn name(&self) -> &'static str;
    fn is_panel(&self) -> bool;
    fn update(&mut self, ev: Event<AnyEvent>, shared: &mut Shared) -> Outcome<AnyEvent>;
    fn draw(&self, area: Rect, buf: &mut Buffer, shared: &Shared);
    fn activity(&self) -> Option<String>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// A typed task seen as one that sends boxed events.
struct Erased<Env, E>(Box<dyn Task<Env, E>>);

impl<Env: 'static, E: Send + 'static> Task<Env, AnyEvent> for Erased<Env, E> {
    fn key(&self) -> u64 {
        self.0.key()
    }
    fn run(self: Box<Self>, env: &mut Env, ctx: &Ctx<AnyEvent>) -> Result<(), String> {
        ctx.map(|e: E| Box::new(e) as AnyEvent, |c| self.0.run(env, c))
    }
    fn as_any(&self) -> &dyn Any {
        self.0.as_any()
    }
}

fn erase<E: Send + 'static>(job: Job<E>) -> Job<AnyEvent> {
    match job {
        Job::Read(t) => Job::Read(Box::new(Erased(t))),
        Job::Model(t) => Job::Model(Box::new(Erased(t))),
        Job::Background(t) => Job::Background(Box::new(Erased(t))),
        Job::Index(t) => Job::Index(Box::new(Erased(t))),
        Job::Cancel(th, k) => Job::Cancel(th, k),
    }
}

impl<C: Component> DynComponent for C {
    fn name(&self) -> &'static str {
        C::NAME
    }
    fn is_panel(&self) -> bool {
        C::PANEL
    }
    fn update(&mut self, ev: Event<AnyEvent>, shared: &mut Shared) -> Outcome<AnyEvent> {
        let ev = match ev {
            Event::Command(a, n) => Event::Command(a, n),
            Event::Refresh => Event::Refresh,
            Event::Reply(ReplyKind::Event(e)) => match e.downcast::<C::Event>() {
                Ok(e) => Event::Reply(ReplyKind::Event(*e)),
                Err(_) => {
                    tracing::error!("component {}: a reply of another type was routed to it", C::NAME);
                    return Outcome::none();
                }
            },
            Event::Reply(ReplyKind::Progress { done, total }) => Event::Reply(ReplyKind::Progress { done, total }),
            Event::Reply(ReplyKind::Finished { cancelled }) => Event::Reply(ReplyKind::Finished { cancelled }),
            Event::Reply(ReplyKind::Failed(e)) => Event::Reply(ReplyKind::Failed(e)),
        };
        match Component::update(self, ev, shared) {
            Outcome::Ignored => Outcome::Ignored,
            Outcome::Done(jobs) => Outcome::Done(jobs.into_iter().map(erase).collect()),
        }
    }
    fn draw(&self, area: Rect, buf: &mut Buffer, shared: &Shared) {
        Component::draw(self, area, buf, shared)
    }
    fn activity(&self) -> Option<String> {
        Component::activity(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
