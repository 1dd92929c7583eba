#!/usr/bin/python3
"""Simulated cameras for Mắt Thần: GStreamer's RTSP server (gst-rtsp-server) on 127.0.0.1,
behaving like household Wi-Fi cameras (Hikvision/Dahua/Imou/Ezviz). Used by `matthan demo`,
the tests and the benchmark (launched by app/capture/src/sim.rs).

Default mounts (K = 1..--streams), looping the clips in assets/clips:
  /camK/main   640x360 15 fps H.264 with B-frames (scene (K-1)%4+1)
  /camK/sub    320x180 15 fps H.264, same scene
  /h265/main   640x360 15 fps H.265
  /mjpeg       Motion-JPEG (a codec Mắt Thần does not decode)
  /secure/main H.264 that needs Basic auth (--user/--password)
Clips are sent with TRUE timestamps: PTS in display order, DTS in decode order, paced by DTS
against the monotonic clock; timestamps keep increasing across loops. The display order of
the raw Annex B clips is read once with ffprobe and cached (see CACHE).

With --large (generated on first use into CACHE, H.265, QR code with the clip frame index):
  /uhd/main     3840x2160 25 fps GOP 50, 4 s loop
  /qhd/main     2560x1440 25 fps GOP 50, 4 s loop
  /ten-bit/main 640x360 25 fps HEVC Main 10 (yuv420p10le), 4 s loop

--mount PATH=JSON (repeatable) adds a mount. Keys:
  "source": "live" | "clip" | "uhd" | "qhd" | "ten-bit" (the last three: a generated clip)
  live:  "pattern" (videotestsrc pattern, default "ball"), "width" (640), "height" (360),
         "fps" (25), "codec" "h264"|"h265" (h264), "gop" (2*fps), "bframes" (0),
         "bitrate" kbit/s (1000), "ten_bit" (H.265 Main 10), "colorimetry" "bt709"|"bt601"
         (bt709), "full_range" (false), "sprop_only" (H.265: VPS/SPS/PPS only in the SDP,
         never in band, and the SDP's a=fmtp ends with ';' as some relays write it; the
         packets of the one in-band copy x265 writes at the start are dropped: a one-time
         sequence-number gap),
         "resize": [[secs, w, h], ...] resolution changes after start (new SPS in band).
         Every frame carries a QR code (top left, ~1/3 of the height, EC level M) with
         {"m":"<mount path>","n":<frame number>,"t":<capture wall clock, µs since epoch>}.
  clip:  "file" (MP4 with true timestamps or Annex B .h264/.h265 with AUDs; relative to
         --clips), "codec" (from the extension), "fps" (retime; default the file's rate).
  both:  "vfr": [[secs, fps], ...] cycled frame rate (live: raw frames dropped before the
         encoder; clip: retimed), "loss": fraction of RTP packets dropped, "seed" (1),
         "jitter_ms": random extra delay 0..N ms per RTP packet (so packets reorder),
         "audio": "pcma" (G.711 A-law 8 kHz, pay1) | "aac" (pay1), "public" (true).

--send-log FILE: one JSON line per video frame sent:
  {"m":mount,"n":frame number,"i":clip index (live: = n),"cap_us":capture wall µs,
   "sent_us":wall µs when the encoded frame went to the payloader,"w":..,"h":..}
  Clip frames: n = loop*len+index, cap_us = the wall time the frame's PTS stands for.

Stdin commands (one per line, each answered by one stdout line "OK ..." or "ERR ..."):
  outage PATH SECS stop    no video for SECS (sessions and RTCP go on), then resume at a keyframe
  outage PATH SECS close   close the mount's sessions now, 404 for SECS, then serve again
  fps PATH N | resize PATH W H    (live mounts)
  loss PATH FRACTION              (live mounts, and mounts with loss/jitter)
  ping
EOF on stdin does not stop the server.

Prints "READY <port>" on stdout once it listens. Stop it with SIGKILL (it ignores SIGTERM
while the main loop is busy). CACHE = $MATTHAN_SIM_CACHE or ~/.cache/matthan-sim.
"""
import argparse
import bisect
import ctypes
import heapq
import json
import os
import random
import re
import subprocess
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstVideo", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstRtspServer, GstSdp, GstVideo  # noqa: E402

SEC = 1_000_000_000
# Gst's system clock is CLOCK_MONOTONIC (as time.monotonic_ns); this maps it to wall time.
WALL_OFF_NS = time.time_ns() - time.monotonic_ns()
AUD = {
    "h264": b"\x00\x00\x00\x01\x09",
    "h265": b"\x00\x00\x00\x01\x46\x01",
    "jpeg": b"\xff\xd8\xff",  # each JPEG picture starts with SOI
}
COLORIMETRY = {
    ("bt709", False): "2:3:5:1",
    ("bt709", True): "1:3:5:1",
    ("bt601", False): "2:4:5:4",
    ("bt601", True): "1:4:5:4",
}


def log(msg: str) -> None:
    sys.stderr.write(f"sim: {msg}\n")
    sys.stderr.flush()


def wall_us(mono_ns: int) -> int:
    return (mono_ns + WALL_OFF_NS) // 1000


def cache_dir() -> str:
    d = os.environ.get("MATTHAN_SIM_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "matthan-sim"
    )
    os.makedirs(d, exist_ok=True)
    return d


class SendLog:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1) if path else None
        self.lock = threading.Lock()

    def write(self, m, n, i, cap_us, w, h):
        if self.f is None:
            return
        line = (
            f'{{"m":{json.dumps(m)},"n":{n},"i":{i},"cap_us":{cap_us},'
            f'"sent_us":{time.time_ns() // 1000},"w":{w},"h":{h}}}\n'
        )
        with self.lock:
            self.f.write(line)
            self.f.flush()


SENDLOG = SendLog(None)


# ---------------------------------------------------------------------------------------------
# QR codes. GStreamer 1.22's qroverlay redraws only on a frame after one where `data` did NOT
# change (it reuses the previous picture when data changes), so it cannot carry a new value on
# every frame. We encode with libqrencode (which qroverlay itself uses) through ctypes and
# blend the code with overlaycomposition's "draw" signal.


class _QRcode(ctypes.Structure):
    _fields_ = [("version", ctypes.c_int), ("width", ctypes.c_int),
                ("data", ctypes.POINTER(ctypes.c_ubyte))]


_QRLIB = ctypes.CDLL("libqrencode.so.4")
_QRLIB.QRcode_encodeString.restype = ctypes.POINTER(_QRcode)
_QRLIB.QRcode_encodeString.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                       ctypes.c_int, ctypes.c_int]
_QRLIB.QRcode_free.argtypes = [ctypes.POINTER(_QRcode)]
_WHITE = b"\xff\xff\xff\xff"
_BLACK = b"\x00\x00\x00\xff"
QR_EC_M = 1


def qr_module_px(h: int) -> int:
    """Pixels per module so that the code (version 4: 33 modules + 2*4 quiet zone) is about a
    third of the picture height; whole pixels, at least 2."""
    return max(2, round(h / 3 / 41))


def qr_composition(text: str, s: int, x: int = 4, y: int = 4):
    """A GstVideoOverlayComposition with `text` as a QR code (EC level M, 4-module quiet zone,
    black on white), `s` pixels per module, its top-left corner at (x, y)."""
    q = _QRLIB.QRcode_encodeString(text.encode(), 0, QR_EC_M, 2, 1)  # 8-bit mode, case kept
    if not q:
        return None
    w = q.contents.width
    d = ctypes.string_at(q.contents.data, w * w)
    _QRLIB.QRcode_free(q)
    qz = 4
    px = (w + 2 * qz) * s
    white_rows = _WHITE * (px * qz * s)
    wq, ws, bs = _WHITE * (qz * s), _WHITE * s, _BLACK * s
    out = [white_rows]
    for r in range(w):
        row = d[r * w:(r + 1) * w]
        out.append((wq + b"".join(bs if m & 1 else ws for m in row) + wq) * s)
    out.append(white_rows)
    buf = Gst.Buffer.new_wrapped(b"".join(out))
    GstVideo.buffer_add_video_meta(buf, GstVideo.VideoFrameFlags.NONE,
                                   GstVideo.VideoFormat.BGRA, px, px)
    rect = GstVideo.VideoOverlayRectangle.new_raw(buf, x, y, px, px,
                                                  GstVideo.VideoOverlayFormatFlags.NONE)
    return GstVideo.VideoOverlayComposition.new(rect)


# ---------------------------------------------------------------------------------------------
# Clips: access units in decode order, with their display rank.


class Clip:
    """aus: access units in decode order; key[i]: keyframe; disp[i]: display rank of AU i (a
    permutation of 0..L-1); E = max(disp-i) (how far a frame's display lies after its decode
    slot), D = max(i-disp) (DTS shift so that DTS <= PTS)."""

    def __init__(self, aus, key, disp, fps, codec, w, h):
        self.aus, self.key, self.disp = aus, key, disp
        self.L = len(aus)
        self.fps, self.codec, self.w, self.h = fps, codec, w, h
        self.E = max(0, max(d - i for i, d in enumerate(disp)))
        self.D = max(0, max(i - d for i, d in enumerate(disp)))
        self.keys = [i for i in range(self.L) if key[i]] or [0]

    def next_key(self, g: int) -> int:
        """Smallest global decode number >= g that is a keyframe."""
        loop, i = divmod(g, self.L)
        j = bisect.bisect_left(self.keys, i)
        if j < len(self.keys):
            return loop * self.L + self.keys[j]
        return (loop + 1) * self.L + self.keys[0]


def split_aus(data: bytes, codec: str) -> list:
    marker = AUD[codec]
    starts = [m.start() for m in re.finditer(re.escape(marker), data)]
    return starts


def probe_order(path: str, codec: str):
    """(display rank per AU, key per AU, width, height) from ffprobe -show_frames, cached."""
    st = os.stat(path)
    tag = f"{os.path.basename(path)}-{st.st_size}-{int(st.st_mtime)}.order.json"
    cpath = os.path.join(cache_dir(), tag)
    try:
        with open(cpath) as f:
            return json.load(f)
    except (OSError, ValueError):
        pass
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "frame=pkt_pos,key_frame,width,height",
         "-of", "json", path],
        check=True, capture_output=True, text=True,
    ).stdout
    frames = json.loads(out)["frames"]
    res = {
        "pos": [int(f["pkt_pos"]) for f in frames],
        "key": [int(f.get("key_frame", 0)) for f in frames],
        "w": frames[0]["width"],
        "h": frames[0]["height"],
    }
    tmp = cpath + f".{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(res, f)
    os.replace(tmp, cpath)
    return res


def load_annexb(path: str, codec: str, fps: float, order=None) -> Clip:
    data = open(path, "rb").read()
    starts = split_aus(data, codec)
    if not starts:
        raise SystemExit(f"{path}: no access-unit delimiters; encode clips with aud=1")
    aus = [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]
    if codec == "jpeg":
        return Clip(aus, [True] * len(aus), list(range(len(aus))), fps, codec, 320, 240)
    o = order or probe_order(path, codec)
    idx = {p: i for i, p in enumerate(starts)}
    disp = [None] * len(aus)
    key = [False] * len(aus)
    rank = 0
    for p, k in zip(o["pos"], o["key"]):
        # ffprobe may count a 4-byte start code's first zero to the previous packet.
        i = idx.get(p, idx.get(p - 1))
        if i is None or disp[i] is not None:
            continue
        disp[i] = rank
        key[i] = bool(k)
        rank += 1
    if any(d is None for d in disp):
        # Frames the decoder did not output (should not happen): keep decode order.
        log(f"{path}: display order incomplete; using decode order")
        disp = list(range(len(aus)))
    key[0] = True
    return Clip(aus, key, disp, fps, codec, o["w"], o["h"])


def load_mp4(path: str, fps=None) -> Clip:
    """Reads an MP4 (true timestamps) into access units (Annex B, parameter sets in band)."""
    Gst.init(None)
    with open(path, "rb") as f:
        raw = f.read()
    h265 = b"hvc1" in raw or b"hev1" in raw
    del raw
    for codec, parse in (("h265", "h265parse"),) if h265 else (("h264", "h264parse"),):
        p = Gst.parse_launch(
            f'filesrc location="{path}" ! qtdemux ! {parse} config-interval=-1 ! '
            f"video/x-{codec},stream-format=byte-stream,alignment=au ! "
            "appsink name=sink sync=false max-buffers=0"
        )
        sink = p.get_by_name("sink")
        p.set_state(Gst.State.PLAYING)
        frames = []
        caps = None
        while True:
            s = sink.emit("try-pull-sample", 5 * SEC)
            if s is None:
                break
            b = s.get_buffer()
            caps = s.get_caps()
            ok, mi = b.map(Gst.MapFlags.READ)
            frames.append((bytes(mi.data), b.pts, b.dts,
                           not b.has_flags(Gst.BufferFlags.DELTA_UNIT)))
            b.unmap(mi)
        p.set_state(Gst.State.NULL)
        if frames:
            st = caps.get_structure(0)
            w, h = st.get_value("width"), st.get_value("height")
            ok, n, d = st.get_fraction("framerate")
            native = n / d if ok and d and n else 25.0
            order = sorted(range(len(frames)), key=lambda i: frames[i][1])
            disp = [0] * len(frames)
            for r, i in enumerate(order):
                disp[i] = r
            key = [f[3] for f in frames]
            key[0] = True
            return Clip([f[0] for f in frames], key, disp, fps or native, codec, w, h)
    raise SystemExit(f"{path}: no H.264/H.265 video track")


# ---------------------------------------------------------------------------------------------
# Timelines: display number -> time offset (ns), constant or cycled ("vfr") frame rate.


class Timeline:
    def __init__(self, fps: float, vfr=None):
        if vfr:
            self.within = []
            t = 0.0
            for secs, f in vfr:
                n = max(1, int(round(secs * f)))
                for k in range(n):
                    self.within.append(int(t + k * SEC / f))
                t += secs * SEC
            self.C = len(self.within)
            self.cycle = int(t)
        else:
            self.within = [0]
            self.C = 1
            self.cycle = int(round(SEC / fps))

    def t(self, x: int) -> int:
        q, r = divmod(x, self.C)
        return q * self.cycle + self.within[r]


class ClipFeed:
    """One media (pipeline) of a clip mount being fed."""

    def __init__(self, mount, appsrc):
        self.mount, self.appsrc = mount, appsrc
        self.base = None
        self.need_key = True
        self.g = mount.next_g
        self.A = 0
        self.g0 = 0

    def anchor(self, now):
        c, tl = self.mount.clip, self.mount.timeline
        self.g0 = c.next_key(self.g)
        self.g = self.g0
        # The keyframe was "captured" E frames ago; keep all running times positive.
        lead = tl.t(self.g0 + c.E) - tl.t(self.g0 - c.D)
        self.A = max(now, self.base + lead + SEC // 100)
        self.need_key = False

    def rel(self, x):
        tl, c = self.mount.timeline, self.mount.clip
        return tl.t(x) - tl.t(self.g0 + c.E)


class Feeder:
    """Pushes access units into every active clip appsrc, paced by DTS against the monotonic
    clock, looping the clip forever with ever-increasing timestamps."""

    def __init__(self):
        self.active = []
        GLib.timeout_add(5, self.tick)

    def attach(self, mount, appsrc):
        self.active.append(ClipFeed(mount, appsrc))

    def tick(self):
        now = time.monotonic_ns()
        for e in list(self.active):
            try:
                if not self.feed(e, now):
                    self.active.remove(e)
            except Exception as ex:  # never let one mount stop the others
                log(f"feeder {e.mount.path}: {ex!r}")
                self.active.remove(e)
        return True

    def feed(self, e: ClipFeed, now: int) -> bool:
        m = e.mount
        if e.base is None:
            _, state, _ = e.appsrc.get_state(0)
            if state != Gst.State.PLAYING:
                return True
            e.base = e.appsrc.get_base_time()
        if m.stop_until > now:
            e.need_key = True
            return True
        if e.need_key:
            e.anchor(now)
        c = m.clip
        L = c.L
        pushed = 0
        while pushed < 50:
            g = e.g
            if e.A + e.rel(g + c.E) > now:
                break
            loop, i = divmod(g, L)
            dn = loop * L + c.disp[i]
            pts = e.A + e.rel(dn) - e.base
            dts = e.A + e.rel(g - c.D) - e.base
            buf = Gst.Buffer.new_wrapped(c.aus[i])
            buf.pts = pts
            buf.dts = dts
            buf.duration = m.timeline.t(dn + 1) - m.timeline.t(dn)
            if not c.key[i]:
                buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
            if e.appsrc.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                return False  # media torn down (no more clients)
            SENDLOG.write(m.path, dn, c.disp[i], wall_us(e.base + pts), c.w, c.h)
            e.g = g + 1
            m.next_g = e.g
            pushed += 1
        return True


# ---------------------------------------------------------------------------------------------
# Mounts.


def jpeg_or_video_pay(codec: str, name: str) -> str:
    if codec == "jpeg":
        return f"rtpjpegpay name={name} pt=26"
    pay = "rtph264pay" if codec == "h264" else "rtph265pay"
    return f"{pay} name={name} pt=96 config-interval=-1"


def audio_launch(kind) -> str:
    if not kind:
        return ""
    if kind == "pcma":
        return (
            " audiotestsrc is-live=true wave=sine freq=440 volume=0.1 samplesperbuffer=320 ! "
            "audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8"
        )
    if kind == "aac":
        return (
            " audiotestsrc is-live=true wave=sine freq=440 volume=0.1 samplesperbuffer=1024 ! "
            "audioconvert ! audio/x-raw,rate=16000,channels=1 ! voaacenc bitrate=32000 ! "
            "rtpmp4gpay name=pay1 pt=97"
        )
    raise SystemExit(f"unknown audio {kind!r}: pcma or aac")


class Mount:
    def __init__(self, path, spec):
        self.path = path
        self.spec = spec
        self.public = spec.get("public", True)
        self.stop_until = 0  # monotonic ns; video stopped until then
        self.closed = False
        self.loss = float(spec.get("loss", 0.0))
        self.rng = random.Random(spec.get("seed", 1))
        self.jitter = int(spec.get("jitter_ms", 0))
        self.factory = None
        self.media_elems = None  # live: current pipeline


class ClipMount(Mount):
    def __init__(self, path, spec, clip):
        super().__init__(path, spec)
        self.clip = clip
        self.timeline = Timeline(clip.fps, spec.get("vfr"))
        self.next_g = 0
        self.netsim = bool(self.loss or self.jitter)

    def launch(self) -> str:
        c = self.clip
        fr = Gst.util_double_to_fraction(c.fps)
        if c.codec == "jpeg":
            caps = f"image/jpeg,width={c.w},height={c.h},framerate={fr[0]}/{fr[1]}"
        else:
            caps = (f"video/x-{c.codec},stream-format=byte-stream,alignment=au,"
                    f"framerate={fr[0]}/{fr[1]}")
        pay = jpeg_or_video_pay(c.codec, "rtppay" if self.netsim else "pay0")
        tail = netsim_launch(self) if self.netsim else ""
        return (f'( appsrc name=src is-live=true do-timestamp=false format=time caps="{caps}" ! '
                f"{pay}{tail}{audio_launch(self.spec.get('audio'))} )")

    def configure(self, media, feeder):
        e = media.get_element()
        if self.netsim:
            jit = add_loss_probe(self, e)
            if jit is not None:
                media.connect("unprepared", lambda _m: setattr(jit, "alive", False))
        feeder.attach(self, e.get_by_name("src"))


def netsim_launch(m) -> str:
    """After the real payloader (named rtppay): an identity named pay0, the element
    gst-rtsp-server takes as the payloader, whose src pad carries the loss/jitter probe.
    (GStreamer's netsim as pay0 breaks when it delays: data before the segment event.)"""
    return " ! identity name=pay0 silent=true"


_TLS = threading.local()


class Jitter:
    """Delays each RTP packet by a seeded random 0..max_ms and pushes it again from its own
    thread, so packets overtake each other as on a busy Wi-Fi link."""

    def __init__(self, pad, max_ms, rng):
        self.pad, self.max_ns, self.rng = pad, int(max_ms * 1_000_000), rng
        self.heap = []
        self.k = 0
        self.cv = threading.Condition()
        self.alive = True
        threading.Thread(target=self.run, name="jitter", daemon=True).start()

    def add(self, buf):
        due = time.monotonic_ns() + int(self.rng.random() * self.max_ns)
        with self.cv:
            self.k += 1
            heapq.heappush(self.heap, (due, self.k, buf))
            self.cv.notify()

    def run(self):
        _TLS.pushing = True
        while self.alive:
            with self.cv:
                while True:
                    now = time.monotonic_ns()
                    if self.heap and self.heap[0][0] <= now:
                        _, _, buf = heapq.heappop(self.heap)
                        break
                    wait = (self.heap[0][0] - now) / 1e9 if self.heap else 1.0
                    self.cv.wait(wait)
            if self.pad.push(buf) == Gst.FlowReturn.FLUSHING and not self.heap:
                pass


def is_h265_param_set(buf) -> bool:
    """An RTP packet carrying an H.265 VPS/SPS/PPS (single NAL unit packet)."""
    h = buf.extract_dup(0, min(buf.get_size(), 80))
    if len(h) < 13:
        return False
    off = 12 + 4 * (h[0] & 0x0F)
    if h[0] & 0x10 and len(h) >= off + 4:  # header extension
        off += 4 + 4 * int.from_bytes(h[off + 2:off + 4], "big")
    if len(h) <= off:
        return False
    return 32 <= (h[off] >> 1) & 0x3F <= 34


_TRAILING = []


def trailing_semicolon_media():
    """A GstRTSPMedia subclass that writes the SDP's a=fmtp with a trailing ';' (as some
    relays do). Defined after Gst.init: registering it earlier breaks the media's
    handle-message signal (GstMessage's type is not known yet) and the media never prepares."""
    if _TRAILING:
        return _TRAILING[0]

    class TrailingSemicolonMedia(GstRtspServer.RTSPMedia):
        def do_setup_sdp(self, sdp, info):
            ok = GstRtspServer.RTSPMedia.do_setup_sdp(self, sdp, info)
            for i in range(sdp.medias_len()):
                med = sdp.get_media(i)
                for j in range(med.attributes_len()):
                    a = med.get_attribute(j)
                    if a.key == "fmtp" and not a.value.endswith(";"):
                        new = GstSdp.SDPAttribute()
                        new.set("fmtp", a.value + ";")
                        med.replace_attribute(j, new)
            return ok

    _TRAILING.append(TrailingSemicolonMedia)
    return TrailingSemicolonMedia


def add_loss_probe(m, pipeline):
    """Drops RTP packets (seeded RNG) after the payloader, so a frame may lose some of its
    packets; TCP-interleaved and UDP clients of the shared media see the same loss."""
    pad = pipeline.get_by_name("pay0").get_static_pad("src")
    jit = Jitter(pad, m.jitter, m.rng) if m.jitter else None
    started = [False, 0]

    sprop_only = getattr(m, "sprop_only", False)

    def probe(_pad, info):
        if getattr(_TLS, "pushing", False):
            return Gst.PadProbeReturn.OK  # a delayed packet going out now
        if sprop_only and is_h265_param_set(info.get_buffer()):
            return Gst.PadProbeReturn.DROP
        if m.loss > 0 and m.rng.random() < m.loss:
            return Gst.PadProbeReturn.DROP
        if jit is not None:
            if not started[0]:
                # Delay only once the segment has gone out (and the media is unblocked):
                # a packet pushed from our thread before that breaks the media.
                started[0] = _pad.get_sticky_event(Gst.EventType.SEGMENT, 0) is not None
                started[1] += 1
                if not started[0] or started[1] < 100:
                    started[0] = False
                    return Gst.PadProbeReturn.OK
            jit.add(info.get_buffer())
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    pad.add_probe(Gst.PadProbeType.BUFFER, probe)
    return jit


class LiveMount(Mount):
    def __init__(self, path, spec):
        super().__init__(path, spec)
        self.codec = spec.get("codec", "h264")
        self.w = int(spec.get("width", 640))
        self.h = int(spec.get("height", 360))
        self.fps = float(spec.get("fps", 25))
        vfr = spec.get("vfr") or []
        self.vfr = [(float(s), float(f)) for s, f in vfr]
        self.src_fps = int(max([self.fps] + [f for _, f in self.vfr]) + 0.999)
        self.resize = [(float(s), int(w), int(h)) for s, w, h in spec.get("resize", [])]
        self.n = 0  # frame counter for the server's life
        self.pending = {}  # running-time PTS -> (n, cap_us, w, h)
        self.t_start = None
        self.next_keep = None
        self.want_key = False
        self.fps_override = None
        self.sprop_only = bool(spec.get("sprop_only"))
        if self.sprop_only and self.codec != "h265":
            raise SystemExit(f"{path}: sprop_only needs codec h265")
        if self.codec not in ("h264", "h265"):
            raise SystemExit(f"{path}: codec must be h264 or h265")

    def current_fps(self, since_start_ns):
        if self.fps_override:
            return self.fps_override
        if not self.vfr:
            return self.fps
        cyc = sum(s for s, _ in self.vfr)
        t = (since_start_ns / SEC) % cyc
        for s, f in self.vfr:
            if t < s:
                return f
            t -= s
        return self.vfr[-1][1]

    def raw_caps(self, w, h, fps):
        # Full range: draw in RGB, so videoconvert produces 0-255 luma (from I420 to I420 it
        # only relabels the range, leaving 16-235 data under a full-range flag).
        rgb = ",format=BGRx" if self.spec.get("full_range") else ""
        return f"video/x-raw{rgb},width={w},height={h},framerate={fps}/1,pixel-aspect-ratio=1/1"

    def launch(self) -> str:
        s = self.spec
        gop = int(s.get("gop", int(2 * self.fps)))
        bf = int(s.get("bframes", 0))
        br = int(s.get("bitrate", 1000))
        col = COLORIMETRY[(s.get("colorimetry", "bt709"), bool(s.get("full_range", False)))]
        ten = bool(s.get("ten_bit", False))
        fmt = "I420_10LE" if ten else "I420"
        pattern = s.get("pattern", "ball")
        if self.codec == "h264":
            enc = (f"x264enc name=enc speed-preset=ultrafast threads=1 key-int-max={gop} "
                   f"bframes={bf} b-adapt=false rc-lookahead=0 sync-lookahead=0 bitrate={br} ! "
                   "video/x-h264,profile=high")
        else:
            # x265 wants a lookahead longer than the B-frame run; none without B-frames.
            look = f":rc-lookahead={bf + 1}:b-adapt=0" if bf else ""
            opts = f"bframes={bf}{look}:pools=1:frame-threads=1:scenecut=0"
            enc = (f"x265enc name=enc speed-preset=ultrafast tune=zerolatency key-int-max={gop} "
                   f'bitrate={br} option-string="{opts}" ! '
                   f"video/x-h265,profile={'main-10' if ten else 'main'}")
        return (
            f"( videotestsrc name=vsrc is-live=true pattern={pattern} ! "
            f'capsfilter name=rawcaps caps="{self.raw_caps(self.w, self.h, self.src_fps)}" ! '
            "overlaycomposition name=qr ! videoconvert ! "
            f'capsfilter caps="video/x-raw,format={fmt},colorimetry={col}" ! {enc} ! '
            f"{self.pay()}{netsim_launch(self)}"
            f"{audio_launch(s.get('audio'))} )"
        )

    def pay(self) -> str:
        if self.sprop_only:
            # No parameter sets inserted by the payloader; x265 writes them once (first
            # IDR), and those packets are dropped after the payloader (see add_loss_probe).
            return "rtph265pay name=rtppay pt=96 config-interval=0 aggregate-mode=none"
        return jpeg_or_video_pay(self.codec, "rtppay")

    def configure(self, media):
        e = media.get_element()
        self.media_elems = e
        # A camera sends a picture as soon as it is encoded. GStreamer's sinks would hold
        # each buffer until its running time plus the live source's reported latency (one
        # frame), adding a frame of delay no real camera has: the media's pipeline runs at
        # zero latency instead.
        def zero_latency(m):
            pipe = m.get_element().get_parent()
            if pipe is not None:
                pipe.set_latency(0)
        media.connect("prepared", zero_latency)
        qr = e.get_by_name("qr")
        enc = e.get_by_name("enc")
        pay = e.get_by_name("rtppay")
        jit = add_loss_probe(self, e)
        if jit is not None:
            media.connect("unprepared", lambda _m: setattr(jit, "alive", False))
        self.next_keep = None
        self.t_start = None
        self.pending = {}
        self.want_key = False
        self.cur_wh = (self.w, self.h)
        text = [""]

        def on_caps(pad, info):
            ev = info.get_event()
            if ev.type == Gst.EventType.CAPS:
                st = ev.parse_caps().get_structure(0)
                self.cur_wh = (st.get_value("width"), st.get_value("height"))
            return Gst.PadProbeReturn.OK

        def raw_probe(pad, info):
            b = info.get_buffer()
            base = e.get_base_time()
            if self.t_start is None:
                self.t_start = b.pts
                self.next_keep = b.pts
            fps = self.current_fps(b.pts - self.t_start)
            # Keep a frame when its PTS reaches the schedule (within half a source frame).
            if b.pts + SEC // (2 * self.src_fps) < self.next_keep:
                return Gst.PadProbeReturn.DROP
            self.next_keep = max(self.next_keep + int(SEC / fps), b.pts)
            n = self.n
            self.n += 1
            cap = wall_us(base + b.pts)
            text[0] = f'{{"m":"{self.path}","n":{n},"t":{cap}}}'
            self.pending[b.pts] = (n, cap, self.cur_wh[0], self.cur_wh[1])
            if len(self.pending) > 300:
                for k in sorted(self.pending)[:100]:
                    del self.pending[k]
            return Gst.PadProbeReturn.OK

        seg = [None]
        qr.connect("draw", lambda _e, _s: qr_composition(text[0], qr_module_px(self.cur_wh[1])))

        def enc_probe(pad, info):
            if info.type & Gst.PadProbeType.EVENT_DOWNSTREAM:
                ev = info.get_event()
                if ev.type == Gst.EventType.SEGMENT:
                    seg[0] = ev.parse_segment()
                return Gst.PadProbeReturn.OK
            b = info.get_buffer()
            rt = b.pts
            if seg[0] is not None:
                rt = seg[0].to_running_time(Gst.Format.TIME, b.pts)
            meta = self.pending.pop(rt, None)
            now = time.monotonic_ns()
            if self.stop_until > now:
                self.want_key = True
                return Gst.PadProbeReturn.DROP
            if self.want_key:
                if b.has_flags(Gst.BufferFlags.DELTA_UNIT):
                    return Gst.PadProbeReturn.DROP
                self.want_key = False
            if meta is not None:
                SENDLOG.write(self.path, meta[0], meta[0], meta[1], meta[2], meta[3])
            return Gst.PadProbeReturn.OK

        qr.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, raw_probe)
        qr.get_static_pad("sink").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_caps)
        pay.get_static_pad("sink").add_probe(
            Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM, enc_probe
        )
        media.connect("unprepared", lambda _m: self._gone(e))
        for secs, w, h in self.resize:
            GLib.timeout_add(int(secs * 1000), self._resize_cb, e, w, h)

    def _gone(self, e):
        if self.media_elems is e:
            self.media_elems = None

    def _resize_cb(self, e, w, h):
        if self.media_elems is e:
            self.set_size(w, h)
        return False

    def set_size(self, w, h):
        e = self.media_elems
        self.w, self.h = w, h
        if e is None:
            return
        e.get_by_name("rawcaps").set_property(
            "caps", Gst.Caps.from_string(self.raw_caps(w, h, self.src_fps))
        )

    def set_fps(self, fps):
        if fps > self.src_fps:
            self.src_fps = int(fps + 0.999)
            e = self.media_elems
            if e is not None:
                e.get_by_name("rawcaps").set_property(
                    "caps", Gst.Caps.from_string(self.raw_caps(self.w, self.h, self.src_fps))
                )
        self.fps_override = fps

    def force_key(self):
        e = self.media_elems
        if e is None:
            return
        ev = GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, 0)
        e.get_by_name("enc").get_static_pad("src").send_event(ev)


# ---------------------------------------------------------------------------------------------
# Generated large/special clips.

LARGE = {
    "/uhd/main": dict(w=3840, h=2160, fps=25, secs=4, gop=50, ten=False, br=8000),
    "/qhd/main": dict(w=2560, h=1440, fps=25, secs=4, gop=50, ten=False, br=4000),
    "/ten-bit/main": dict(w=640, h=360, fps=25, secs=4, gop=50, ten=True, br=800),
}


def generate_clip(path: str, g: dict) -> str:
    """Encodes a looping H.265 clip (QR code: {"m":path,"i":frame index}) into the cache."""
    name = path.strip("/").replace("/", "-")
    out = os.path.join(
        cache_dir(), f"{name}-{g['w']}x{g['h']}-{g['fps']}-{g['secs']}-{g['ten']}-v1.mp4"
    )
    if os.path.exists(out):
        return out
    t0 = time.monotonic()
    fmt = "I420_10LE" if g["ten"] else "I420"
    prof = "main-10" if g["ten"] else "main"
    n = g["fps"] * g["secs"]
    tmp = out + f".{os.getpid()}.tmp"
    p = Gst.parse_launch(
        f"videotestsrc num-buffers={n} pattern=ball ! "
        f"video/x-raw,width={g['w']},height={g['h']},framerate={g['fps']}/1 ! "
        "overlaycomposition name=qr ! videoconvert ! "
        f"video/x-raw,format={fmt},colorimetry=bt709 ! "
        f"x265enc speed-preset=ultrafast key-int-max={g['gop']} bitrate={g['br']} "
        'option-string="bframes=0:scenecut=0:open-gop=0" ! '
        f"video/x-h265,profile={prof} ! h265parse ! mp4mux ! filesink location=\"{tmp}\""
    )
    qr = p.get_by_name("qr")
    count = [0]

    s = qr_module_px(g["h"])

    def draw(_e, _sample):
        comp = qr_composition(f'{{"m":"{path}","i":{count[0]}}}', s)
        count[0] += 1
        return comp

    qr.connect("draw", draw)
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR
    )
    p.set_state(Gst.State.NULL)
    if msg.type == Gst.MessageType.ERROR:
        raise SystemExit(f"generating {path}: {msg.parse_error()[0].message}")
    os.replace(tmp, out)
    log(f"generated {out} in {time.monotonic() - t0:.1f} s")
    return out


# ---------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--clips", default=os.path.join(os.path.dirname(__file__), "..", "clips"))
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default="matkhau-bi-mat")
    ap.add_argument("--mount", action="append", default=[], metavar="PATH=JSON")
    ap.add_argument("--large", action="store_true")
    ap.add_argument("--send-log", default=None)
    args = ap.parse_args()

    global SENDLOG
    SENDLOG = SendLog(args.send_log)
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    server.get_thread_pool().set_max_threads(8)
    mounts = server.get_mount_points()
    clips = os.path.abspath(args.clips)

    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "anonymous")
    auth.set_default_token(token)
    admin = GstRtspServer.RTSPToken()
    admin.set_string("media.factory.role", "admin")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), admin)
    server.set_auth(auth)

    feeder = Feeder()
    cache = {}
    registry = {}

    def make_factory(m: Mount):
        f = GstRtspServer.RTSPMediaFactory()
        f.set_launch(m.launch())
        f.set_shared(True)
        f.add_role_from_structure(
            Gst.Structure.new_from_string(
                "admin, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )
        )
        construct = "true" if m.public else "false"
        f.add_role_from_structure(
            Gst.Structure.new_from_string(
                "anonymous, media.factory.access=(boolean)true, "
                f"media.factory.construct=(boolean){construct}"
            )
        )
        if getattr(m, "sprop_only", False):
            f.set_media_gtype(trailing_semicolon_media().__gtype__)
        if isinstance(m, ClipMount):
            f.connect("media-configure", lambda _f, media: m.configure(media, feeder))
        else:
            f.connect("media-configure", lambda _f, media: m.configure(media))
        m.factory = f
        mounts.add_factory(m.path, f)
        registry[m.path] = m

    # Display orders of all raw clips, probed in parallel (cached after the first run).
    def get_clip(file, codec, fps):
        k = (file, codec, fps)
        if k not in cache:
            if file.endswith(".mp4"):
                cache[k] = load_mp4(file, fps)
            else:
                cache[k] = load_annexb(file, codec, fps or 15.0)
        return cache[k]

    default = []
    for k in range(1, args.streams + 1):
        scene = (k - 1) % 4 + 1
        default.append((f"/cam{k}/main", f"{clips}/scene{scene}-main.h264", "h264", True))
        default.append((f"/cam{k}/sub", f"{clips}/scene{scene}-sub.h264", "h264", True))
    default.append(("/h265/main", f"{clips}/scene1-main.h265", "h265", True))
    default.append(("/mjpeg", f"{clips}/scene1.mjpeg", "jpeg", True))
    default.append(("/secure/main", f"{clips}/scene2-main.h264", "h264", False))
    prewarm(sorted({(c, k) for _, c, k, _ in default if k != "jpeg"}))
    for path, file, codec, public in default:
        make_factory(ClipMount(path, {"public": public}, get_clip(file, codec, 15.0)))

    if args.large:
        for path, g in LARGE.items():
            make_factory(ClipMount(path, {}, get_clip(generate_clip(path, g), "h265", None)))

    for spec_arg in args.mount:
        path, _, js = spec_arg.partition("=")
        spec = json.loads(js)
        src = spec.get("source", "live")
        if src == "live":
            m = LiveMount(path, spec)
        elif src == "clip":
            file = spec["file"]
            if not os.path.isabs(file):
                file = os.path.join(clips, file)
            ext = os.path.splitext(file)[1].lstrip(".")
            codec = spec.get("codec", {"h265": "h265", "hevc": "h265", "mjpeg": "jpeg"}.get(ext, "h264"))
            if path in LARGE and not os.path.exists(file):
                file = generate_clip(path, LARGE[path])
            m = ClipMount(path, spec, get_clip(file, codec, spec.get("fps")))
        elif src in ("uhd", "qhd", "ten-bit"):
            g = LARGE[f"/{src}/main"]
            m = ClipMount(path, spec, get_clip(generate_clip(f"/{src}/main", g), "h265", spec.get("fps")))
        else:
            raise SystemExit(f"{path}: unknown source {src!r}")
        if path in registry:
            mounts.remove_factory(path)
        make_factory(m)

    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    print(f"READY {args.port}", flush=True)

    ctl = Control(server, mounts, registry)
    threading.Thread(target=ctl.read_stdin, name="stdin", daemon=True).start()
    GLib.MainLoop().run()
    return 0


def prewarm(files):
    """Runs ffprobe for every uncached clip at once (2 cores: about a second in all)."""
    procs = []
    for file, codec in files:
        st = os.stat(file)
        tag = f"{os.path.basename(file)}-{st.st_size}-{int(st.st_mtime)}.order.json"
        if not os.path.exists(os.path.join(cache_dir(), tag)):
            procs.append(threading.Thread(target=probe_order, args=(file, codec)))
    for t in procs:
        t.start()
    for t in procs:
        t.join()


class Control:
    def __init__(self, server, mounts, registry):
        self.server, self.mounts, self.registry = server, mounts, registry

    def read_stdin(self):
        for line in sys.stdin:
            line = line.strip()
            if line:
                GLib.idle_add(self.handle, line)
        # EOF: keep serving.

    def reply(self, s):
        sys.stdout.write(s + "\n")
        sys.stdout.flush()

    def handle(self, line):
        try:
            self.reply(self.run(line.split()))
        except Exception as ex:
            self.reply(f"ERR {line}: {ex}")
        return False

    def mount(self, path):
        m = self.registry.get(path)
        if m is None:
            raise ValueError(f"no mount {path}")
        return m

    def run(self, w):
        if not w:
            return "ERR empty"
        cmd = w[0]
        if cmd == "ping":
            return "OK pong"
        if cmd == "outage" and len(w) == 4:
            m, secs, mode = self.mount(w[1]), float(w[2]), w[3]
            if mode == "stop":
                m.stop_until = time.monotonic_ns() + int(secs * SEC)
                if isinstance(m, LiveMount):
                    GLib.timeout_add(int(secs * 1000) + 1, lambda: (m.force_key(), False)[1])
                return f"OK outage {m.path} {secs} stop"
            if mode == "close":
                self.mounts.remove_factory(m.path)
                n = self.close_sessions(m.path)
                GLib.timeout_add(int(secs * 1000), self.reopen, m)
                return f"OK outage {m.path} {secs} close sessions={n}"
            return f"ERR outage mode {mode}: stop or close"
        if cmd == "fps" and len(w) == 3:
            m = self.mount(w[1])
            if not isinstance(m, LiveMount):
                return f"ERR {m.path} is not a live mount"
            m.set_fps(float(w[2]))
            return f"OK fps {m.path} {w[2]}"
        if cmd == "resize" and len(w) == 4:
            m = self.mount(w[1])
            if not isinstance(m, LiveMount):
                return f"ERR {m.path} is not a live mount"
            m.set_size(int(w[2]), int(w[3]))
            return f"OK resize {m.path} {w[2]}x{w[3]}"
        if cmd == "loss" and len(w) == 3:
            m = self.mount(w[1])
            if isinstance(m, ClipMount) and not m.netsim:
                return f"ERR {m.path}: loss needs a live mount or one started with loss/jitter"
            m.loss = float(w[2])
            return f"OK loss {m.path} {m.loss}"
        return f"ERR unknown command: {' '.join(w)}"

    def reopen(self, m):
        self.mounts.add_factory(m.path, m.factory)
        return False

    def close_sessions(self, path):
        hit = []

        def sess_filter(_pool, sess, *_):
            for sm in sess.filter(None):
                ok = sm.matches(path)
                if isinstance(ok, tuple):
                    ok = ok[0]
                if ok:
                    hit.append(sess.get_sessionid())
                    return GstRtspServer.RTSPFilterResult.REMOVE
            return GstRtspServer.RTSPFilterResult.KEEP

        clients = []

        def client_sessions(client, sess, *_):
            for sm in sess.filter(None):
                ok = sm.matches(path)
                if isinstance(ok, tuple):
                    ok = ok[0]
                if ok:
                    clients.append(client)
            return GstRtspServer.RTSPFilterResult.KEEP

        def client_filter(_server, client, *_):
            client.session_filter(client_sessions)
            return GstRtspServer.RTSPFilterResult.KEEP

        self.server.client_filter(client_filter)
        self.server.get_session_pool().filter(sess_filter)

        def close(_server, client, *_):
            if client in clients:
                return GstRtspServer.RTSPFilterResult.REMOVE
            return GstRtspServer.RTSPFilterResult.KEEP

        self.server.client_filter(close)
        return len(hit)


if __name__ == "__main__":
    sys.exit(main())
