//! The "onvif" thread: its own tokio runtime, one task per request, and one worker per
//! camera for PTZ (a camera's commands run in the order given, a move or stop as the latest
//! word of a motion slot; cameras run side by side).
//! The UI only sends (never blocking: a full queue is an answer, not a wait) and polls.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mt_core::{CameraId, Credentials};
use tokio::sync::{mpsc, Notify};
use url::Url;

use crate::device::{discover, inspect, session, Device, Found};
use crate::error::{Error, Kind};
use crate::ptz::{act, ptz_profile, view, PtzCommand, PtzView};

/// Called when an answer is ready (the UI passes its `request_repaint`).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// Requests waiting for the thread; more is "too busy".
const QUEUE: usize = 64;
/// PTZ commands waiting for one camera.
const CAMERA_QUEUE: usize = 16;

/// The answer to a request, when it is there.
pub struct Pending<T>(Receiver<Result<T, Error>>);

impl<T> Pending<T> {
    fn ready(r: Result<T, Error>) -> Self {
        let (tx, rx) = sync_channel(1);
        let _ = tx.send(r);
        Pending(rx)
    }

    /// The answer if it is there (never blocks); an error if it can no longer come.
    pub fn try_take(&self) -> Option<Result<T, Error>> {
        match self.0.try_recv() {
            Ok(r) => Some(r),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(gone())),
        }
    }

    /// Blocks for the answer (command line, tests).
    pub fn wait(self) -> Result<T, Error> {
        self.0.recv().unwrap_or_else(|_| Err(gone()))
    }
}

fn gone() -> Error {
    Error::new(Kind::Unavailable, "the ONVIF thread has stopped")
}

type Answer<T> = (SyncSender<Result<T, Error>>, Wake);

fn answer<T>(a: Answer<T>, r: Result<T, Error>) {
    let _ = a.0.send(r);
    (a.1)();
}

enum Request {
    Inspect(Url, Option<Credentials>, Answer<Device>),
    Discover(Duration, Vec<IpAddr>, Answer<Vec<Found>>),
    Ptz(Target, PtzCommand, Answer<PtzView>),
    Forget(CameraId),
}

/// The camera a PTZ command is for, as the camera file gives it now.
struct Target {
    camera: CameraId,
    url: Url,
    creds: Option<Credentials>,
}

#[derive(Clone)]
pub struct OnvifService {
    tx: mpsc::Sender<Request>,
}

impl OnvifService {
    /// Starts the thread named "onvif".
    pub fn start() -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("onvif".into())
            .spawn(move || rt.block_on(serve(rx)))?;
        Ok(OnvifService { tx })
    }

    fn send<T>(&self, make: impl FnOnce(Answer<T>) -> Request, wake: Wake) -> Pending<T> {
        let (atx, arx) = sync_channel(1);
        match self.tx.try_send(make((atx, wake))) {
            Ok(()) => Pending(arx),
            Err(mpsc::error::TrySendError::Full(_)) => Pending::ready(Err(Error::new(
                Kind::Unavailable,
                "too many ONVIF requests waiting",
            ))),
            Err(mpsc::error::TrySendError::Closed(_)) => Pending::ready(Err(gone())),
        }
    }

    /// Device information, profiles and stream URIs of the device at `url`.
    pub fn inspect(&self, url: Url, creds: Option<Credentials>, wake: Wake) -> Pending<Device> {
        self.send(|a| Request::Inspect(url, creds, a), wake)
    }

    /// WS-Discovery for `wait` (multicast, and unicast to each of `also`).
    pub fn discover(&self, wait: Duration, also: Vec<IpAddr>, wake: Wake) -> Pending<Vec<Found>> {
        self.send(|a| Request::Discover(wait, also, a), wake)
    }

    /// One PTZ command for `camera`, whose ONVIF device is at `url`. A Stop waits for room
    /// in the queue rather than be refused (the thread only hands requests on, so the wait
    /// is a moment); anything else is refused when the queue is full.
    pub fn ptz(
        &self,
        camera: &CameraId,
        url: &Url,
        creds: Option<Credentials>,
        cmd: PtzCommand,
        wake: Wake,
    ) -> Pending<PtzView> {
        let t = Target {
            camera: camera.clone(),
            url: url.clone(),
            creds,
        };
        // (Not from inside a tokio runtime, where a blocking send would panic.)
        if cmd == PtzCommand::Stop && tokio::runtime::Handle::try_current().is_err() {
            let (atx, arx) = sync_channel(1);
            return match self.tx.blocking_send(Request::Ptz(t, cmd, (atx, wake))) {
                Ok(()) => Pending(arx),
                Err(_) => Pending::ready(Err(gone())),
            };
        }
        self.send(|a| Request::Ptz(t, cmd, a), wake)
    }

    /// The camera was changed or removed: its session goes (the next command opens anew).
    pub fn forget(&self, camera: &CameraId) {
        let _ = self.tx.try_send(Request::Forget(camera.clone()));
    }
}

type Job = (PtzCommand, Answer<PtzView>);

/// What the held arrow asks of a camera: the latest word wins. A Stop replaces a Move that
/// has not gone out yet, and is never refused for a full queue.
#[derive(Default)]
struct Motion {
    /// Some(Some(velocity)): turn; Some(None): stand still; None: nothing new.
    want: Option<Option<[f32; 3]>>,
    answer: Option<Answer<PtzView>>,
}

struct Worker {
    url: Url,
    creds: Option<Credentials>,
    tx: mpsc::Sender<Job>,
    motion: Arc<Mutex<Motion>>,
    wake: Arc<Notify>,
}

impl Worker {
    fn start(url: Url, creds: Option<Credentials>) -> Self {
        let (tx, rx) = mpsc::channel(CAMERA_QUEUE);
        let motion = Arc::new(Mutex::new(Motion::default()));
        let wake = Arc::new(Notify::new());
        tokio::spawn(worker(
            url.clone(),
            creds.clone(),
            rx,
            motion.clone(),
            wake.clone(),
        ));
        Worker {
            url,
            creds,
            tx,
            motion,
            wake,
        }
    }

    /// The worker was made for this address and these credentials (a password changed in
    /// the camera file needs a new session).
    fn serves(&self, t: &Target) -> bool {
        let same_creds = match (&self.creds, &t.creds) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.username == b.username && a.password.expose() == b.password.expose()
            }
            _ => false,
        };
        self.url == t.url && same_creds && !self.tx.is_closed()
    }

    fn set_motion(&self, want: Option<[f32; 3]>, a: Answer<PtzView>) {
        let old = {
            let mut m = self.motion.lock().unwrap_or_else(|e| e.into_inner());
            m.want = Some(want);
            m.answer.replace(a)
        };
        if let Some(old) = old {
            answer(
                old,
                Err(Error::new(
                    Kind::Superseded,
                    "a newer move or stop replaced it",
                )),
            );
        }
        self.wake.notify_one();
    }
}

async fn serve(mut rx: mpsc::Receiver<Request>) {
    let mut workers: HashMap<CameraId, Worker> = HashMap::new();
    while let Some(req) = rx.recv().await {
        match req {
            Request::Inspect(url, creds, a) => {
                tokio::spawn(async move { answer(a, inspect(&url, creds.as_ref()).await) });
            }
            Request::Discover(wait, also, a) => {
                tokio::spawn(async move { answer(a, Ok(discover(wait, &also).await)) });
            }
            Request::Forget(camera) => {
                workers.remove(&camera);
            }
            Request::Ptz(t, cmd, a) => {
                if !workers.get(&t.camera).is_some_and(|w| w.serves(&t)) {
                    workers.insert(
                        t.camera.clone(),
                        Worker::start(t.url.clone(), t.creds.clone()),
                    );
                }
                let w = &workers[&t.camera];
                match cmd {
                    PtzCommand::Move { pan, tilt, zoom } => {
                        w.set_motion(Some([pan, tilt, zoom]), a)
                    }
                    PtzCommand::Stop => w.set_motion(None, a),
                    cmd => {
                        if let Err(e) = w.tx.try_send((cmd, a)) {
                            let (_, a) = match e {
                                mpsc::error::TrySendError::Full(j)
                                | mpsc::error::TrySendError::Closed(j) => j,
                            };
                            answer(
                                a,
                                Err(Error::new(
                                    Kind::Unavailable,
                                    format!("camera {}: too many PTZ commands waiting", t.camera),
                                )),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// A Stop is tried this many times (the session opened anew between tries).
const STOP_TRIES: usize = 3;

type Open = Option<(oxvif::OnvifSession, String)>;

/// The session and the PTZ profile, opened if they are not.
async fn ensure<'a>(
    open: &'a mut Open,
    url: &Url,
    creds: Option<&Credentials>,
) -> Result<&'a (oxvif::OnvifSession, String), Error> {
    if open.is_none() {
        let s = session(url, creds).await?;
        let profile = ptz_profile(&s, creds).await?;
        *open = Some((s, profile));
    }
    Ok(open.as_ref().expect("opened above"))
}

/// A failure that may have been the network's or the password's: the next try opens anew.
fn reopen_after(open: &mut Open, r: &Result<impl Sized, Error>) {
    if matches!(
        r,
        Err(Error {
            kind: Kind::Unreachable | Kind::Timeout | Kind::Unauthorized,
            ..
        })
    ) {
        *open = None;
    }
}

enum Event {
    Motion,
    Job(Job),
}

/// One camera's PTZ: moves and stops from the motion slot (a Stop tried [`STOP_TRIES`]
/// times), other commands in their order. The worker never renews a move by itself: the
/// panel sends the move again while the arrow is held, so a camera that follows ONVIF stops
/// by its own PTZ timeout when the workstation stops asking (a dead man's switch).
async fn worker(
    url: Url,
    creds: Option<Credentials>,
    mut rx: mpsc::Receiver<Job>,
    motion: Arc<Mutex<Motion>>,
    wake: Arc<Notify>,
) {
    let creds = creds.as_ref();
    let mut open: Open = None;
    // The last view of the camera.
    let mut last: Option<PtzView> = None;
    loop {
        let event = tokio::select! {
            biased;
            _ = wake.notified() => Event::Motion,
            j = rx.recv() => match j {
                Some(j) => Event::Job(j),
                None => break,
            },
        };
        match event {
            Event::Motion => {
                let (want, a) = {
                    let mut m = motion.lock().unwrap_or_else(|e| e.into_inner());
                    (m.want.take(), m.answer.take())
                };
                let Some(want) = want else { continue };
                let r = match want {
                    Some(v) => {
                        let r = match ensure(&mut open, &url, creds).await {
                            Ok((s, profile)) => {
                                act(s, profile, &velocity(v), creds).await.map(|_| ())
                            }
                            Err(e) => Err(e),
                        };
                        reopen_after(&mut open, &r);
                        match (r, &last) {
                            (Ok(()), Some(l)) => Ok(PtzView {
                                saved: None,
                                ..l.clone()
                            }),
                            // The first move: what the camera says of itself once.
                            (Ok(()), None) => match ensure(&mut open, &url, creds).await {
                                Ok((s, profile)) => view(s, profile, creds, None).await,
                                Err(e) => Err(e),
                            },
                            (Err(e), _) => Err(e),
                        }
                    }
                    None => {
                        let mut r = Err(Error::new(Kind::Unavailable, "not tried"));
                        for attempt in 0..STOP_TRIES {
                            if attempt > 0 {
                                tokio::time::sleep(Duration::from_millis(300)).await;
                            }
                            r = match ensure(&mut open, &url, creds).await {
                                Ok((s, profile)) => {
                                    act(s, profile, &PtzCommand::Stop, creds).await.map(|_| ())
                                }
                                Err(e) => Err(e),
                            };
                            reopen_after(&mut open, &r);
                            if r.is_ok() {
                                break;
                            }
                            tracing::warn!(attempt, "PTZ stop failed: {:?}", r);
                        }
                        match r {
                            Ok(()) => match ensure(&mut open, &url, creds).await {
                                Ok((s, profile)) => view(s, profile, creds, None).await,
                                Err(e) => Err(e),
                            },
                            Err(e) => Err(e),
                        }
                    }
                };
                if let Ok(v) = &r {
                    last = Some(v.clone());
                }
                if let Some(a) = a {
                    answer(a, r);
                }
            }
            Event::Job((cmd, a)) => {
                let r = match ensure(&mut open, &url, creds).await {
                    Ok((s, profile)) => match act(s, profile, &cmd, creds).await {
                        Ok(saved) => view(s, profile, creds, saved).await,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                reopen_after(&mut open, &r);
                if let Ok(v) = &r {
                    last = Some(v.clone());
                }
                answer(a, r);
            }
        }
    }
}

fn velocity(v: [f32; 3]) -> PtzCommand {
    PtzCommand::Move {
        pan: v[0],
        tilt: v[1],
        zoom: v[2],
    }
}
