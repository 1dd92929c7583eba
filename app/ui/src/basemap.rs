//! The basemap's tiles, read and decoded on a thread of their own ("map-tiles", which owns
//! the MBTiles file's connection from then on), never on the UI thread: the map asks for the
//! tiles it lacks, draws what has arrived, and the thread wakes it when more has.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;

use mt_map::MapData;

/// (zoom, x, y) in the XYZ scheme.
pub type TileKey = (u8, u32, u32);

/// Tiles waiting to be read; more are asked for again in a later frame.
const QUEUE: usize = 64;
/// Decoded tiles kept as textures; beyond this the cache starts over.
const KEEP: usize = 512;

pub struct Basemap {
    ask: SyncSender<(TileKey, egui::Context)>,
    got: Receiver<(TileKey, Option<egui::ColorImage>)>,
    asked: HashSet<TileKey>,
    /// None: the file has no such tile (or it does not decode): drawn as nothing.
    tiles: HashMap<TileKey, Option<egui::TextureHandle>>,
    /// Tiles answered by the thread so far (read or found missing).
    answered: u64,
}

impl Basemap {
    /// Starts the thread for `data`'s basemap; None when the map has none.
    pub fn start(data: &Arc<MapData>) -> Option<Self> {
        data.basemap.as_ref()?;
        let (ask, asks) = sync_channel::<(TileKey, egui::Context)>(QUEUE);
        let (put, got) = sync_channel(QUEUE * 2);
        let data = data.clone();
        let started = std::thread::Builder::new()
            .name("map-tiles".into())
            .spawn(move || {
                mt_core::priority::lower_this_thread(mt_core::priority::SERVICE);
                let mb = data.basemap.as_ref().expect("checked above");
                while let Ok(((z, x, y), ctx)) = asks.recv() {
                    let img = mb.tile(z, x, y).ok().flatten().and_then(|bytes| {
                        let img = image::load_from_memory(&bytes).ok()?.to_rgba8();
                        let size = [img.width() as usize, img.height() as usize];
                        Some(egui::ColorImage::from_rgba_unmultiplied(size, img.as_raw()))
                    });
                    if put.send(((z, x, y), img)).is_err() {
                        break;
                    }
                    ctx.request_repaint();
                }
            });
        match started {
            Ok(_) => Some(Basemap {
                ask,
                got,
                asked: HashSet::new(),
                tiles: HashMap::new(),
                answered: 0,
            }),
            Err(e) => {
                tracing::warn!("basemap thread not started: {e}");
                None
            }
        }
    }

    /// The tile's texture if it has arrived (taking what arrived since the last frame, which
    /// egui uploads with the frame); asks for it otherwise.
    pub fn tile(&mut self, ctx: &egui::Context, key: TileKey) -> Option<&egui::TextureHandle> {
        self.receive(ctx);
        if !self.tiles.contains_key(&key) && !self.asked.contains(&key) {
            match self.ask.try_send((key, ctx.clone())) {
                Ok(()) => {
                    self.asked.insert(key);
                }
                // Full: asked again next frame (the thread wakes the UI as it answers).
                Err(std::sync::mpsc::TrySendError::Full(_)) => {}
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                    self.tiles.insert(key, None);
                }
            }
        }
        self.tiles.get(&key).and_then(Option::as_ref)
    }

    fn receive(&mut self, ctx: &egui::Context) {
        loop {
            match self.got.try_recv() {
                Ok((key, img)) => {
                    self.asked.remove(&key);
                    self.answered += 1;
                    if self.tiles.len() >= KEEP {
                        self.tiles.clear();
                    }
                    let (z, x, y) = key;
                    let tex = img.map(|img| {
                        ctx.load_texture(
                            format!("tile-{z}-{x}-{y}"),
                            img,
                            egui::TextureOptions::LINEAR,
                        )
                    });
                    self.tiles.insert(key, tex);
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
    }

    /// Tiles the thread has answered since the map opened (the stress benchmark counts
    /// decoded tiles with it).
    pub fn answered(&self) -> u64 {
        self.answered
    }

    /// Tiles asked for and not yet answered (tests).
    pub fn waiting(&self) -> usize {
        self.asked.len()
    }
}
