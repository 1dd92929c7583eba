//! The "onvif" thread: its own tokio runtime, one task per request, and one worker per
//! camera for PTZ (a camera's commands run in the order given; cameras run side by side).
//! The UI only sends (never blocking: a full queue is an answer, not a wait) and polls.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use mt_core::{CameraId, Credentials};
use tokio::sync::mpsc;
use url::Url;

use crate::device::{discover, inspect, session, Device, Found};
use crate::error::{Error, Kind};
use crate::ptz::{ptz_profile, run, PtzCommand, PtzView};

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

    /// One PTZ command for `camera`, whose ONVIF device is at `url`.
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
        self.send(|a| Request::Ptz(t, cmd, a), wake)
    }

    /// The camera was changed or removed: its session goes (the next command opens anew).
    pub fn forget(&self, camera: &CameraId) {
        let _ = self.tx.try_send(Request::Forget(camera.clone()));
    }
}

type Job = (PtzCommand, Answer<PtzView>);

struct Worker {
    url: Url,
    user: Option<String>,
    tx: mpsc::Sender<Job>,
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
                let user = t.creds.as_ref().map(|c| c.username.clone());
                let stale = workers
                    .get(&t.camera)
                    .is_none_or(|w| w.url != t.url || w.user != user || w.tx.is_closed());
                if stale {
                    let (wtx, wrx) = mpsc::channel(CAMERA_QUEUE);
                    tokio::spawn(worker(t.url.clone(), t.creds.clone(), wrx));
                    workers.insert(
                        t.camera.clone(),
                        Worker {
                            url: t.url.clone(),
                            user,
                            tx: wtx,
                        },
                    );
                }
                let w = &workers[&t.camera];
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

/// One camera's PTZ: opens the session when first needed and again after a failure that
/// may have been the network's or the password's.
async fn worker(url: Url, creds: Option<Credentials>, mut rx: mpsc::Receiver<Job>) {
    let mut open: Option<(oxvif::OnvifSession, String)> = None;
    while let Some((cmd, a)) = rx.recv().await {
        if open.is_none() {
            let opened = async {
                let s = session(&url, creds.as_ref()).await?;
                let profile = ptz_profile(&s, creds.as_ref()).await?;
                Ok::<_, Error>((s, profile))
            }
            .await;
            match opened {
                Ok(o) => open = Some(o),
                Err(e) => {
                    answer(a, Err(e));
                    continue;
                }
            }
        }
        let (s, profile) = open.as_ref().expect("opened above");
        let r = run(s, profile, &cmd, creds.as_ref()).await;
        if matches!(
            &r,
            Err(Error {
                kind: Kind::Unreachable | Kind::Timeout | Kind::Unauthorized,
                ..
            })
        ) {
            open = None;
        }
        answer(a, r);
    }
}
