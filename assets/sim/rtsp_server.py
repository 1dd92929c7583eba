#!/usr/bin/python3
"""Simulated cameras for Mắt Thần: GStreamer's RTSP server (gst-rtsp-server) serving looping
clips from assets/clips on 127.0.0.1. Used by `matthan demo`, the tests and the benchmark.

Mounts (K = 1..N):
  /camK/main   640x360 15 fps H.264 (scene (K-1)%4+1)
  /camK/sub    320x180 15 fps H.264, same scene
  /h265/main   640x360 15 fps H.265
  /mjpeg       Motion-JPEG (a codec Mắt Thần does not decode)
  /secure/main H.264 that needs Basic auth (--user/--password)

Prints "READY <port>" on stdout once it listens. Stop it with SIGKILL (it ignores SIGTERM
while the main loop is busy).
"""
import argparse
import re
import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


FPS = 15
AUD = {
    "h264": b"\x00\x00\x00\x01\x09",
    "h265": b"\x00\x00\x00\x01\x46\x01",
    "jpeg": b"\xff\xd8\xff",  # each JPEG picture starts with SOI
}


def access_units(path: str, codec: str) -> list:
    """Splits a raw Annex B clip into access units. Our clips are encoded with access-unit
    delimiters (x264/x265 aud=1), so every access unit starts with one."""
    data = open(path, "rb").read()
    marker = AUD[codec]
    starts = [m.start() for m in re.finditer(re.escape(marker), data)]
    if not starts:
        raise SystemExit(f"{path}: no access-unit delimiters; encode clips with aud=1")
    return [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]


class Feeder:
    """Pushes access units into every active appsrc on a 15 fps schedule kept against the
    monotonic clock (so the rate does not drift), looping the clip forever. gst-rtsp-server
    cannot loop a file by itself: a looped raw file carries no timestamps."""

    def __init__(self):
        self.active = []  # [appsrc, aus, t0, n]
        GLib.timeout_add(5, self.tick)

    def attach(self, appsrc, aus):
        entry = [appsrc, aus, GLib.get_monotonic_time(), 0]
        self.active.append(entry)

    def tick(self):
        now = GLib.get_monotonic_time()
        for entry in list(self.active):
            appsrc, aus, t0, n = entry
            while t0 + n * 1_000_000 // FPS <= now:
                buf = Gst.Buffer.new_wrapped(aus[n % len(aus)])
                if appsrc.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                    self.active.remove(entry)  # media torn down (no more clients)
                    break
                n += 1
            entry[3] = n
        return True


def appsrc_launch(codec: str) -> str:
    if codec == "jpeg":
        return (
            f'( appsrc name=src is-live=true do-timestamp=true format=time '
            f'caps="image/jpeg,width=320,height=240,framerate={FPS}/1" ! rtpjpegpay name=pay0 pt=26 )'
        )
    pay = "rtph264pay" if codec == "h264" else "rtph265pay"
    return (
        f"( appsrc name=src is-live=true do-timestamp=true format=time "
        f'caps="video/x-{codec},stream-format=byte-stream,alignment=au,framerate={FPS}/1" ! '
        f"{pay} name=pay0 pt=96 config-interval=-1 )"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--clips", default=os.path.join(os.path.dirname(__file__), "..", "clips"))
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default="matkhau-bi-mat")
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    # Several client threads, so one slow client (or media being prepared) does not hold up
    # the others.
    server.get_thread_pool().set_max_threads(8)
    mounts = server.get_mount_points()
    clips = os.path.abspath(args.clips)

    # Basic auth: anonymous users may open everything but /secure; "admin" may open all.
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

    def add_clip(path: str, clip: str, codec: str = "h264", public: bool = True) -> None:
        if clip not in cache:
            cache[clip] = access_units(clip, codec)
        aus = cache[clip]
        f = add(path, appsrc_launch(codec), public)
        f.connect(
            "media-configure",
            lambda _f, media: feeder.attach(media.get_element().get_by_name("src"), aus),
        )

    def add(path: str, launch: str, public: bool = True):
        f = GstRtspServer.RTSPMediaFactory()
        f.set_launch(launch)
        f.set_shared(True)
        f.add_role_from_structure(
            Gst.Structure.new_from_string(
                "admin, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )
        )
        # Anonymous users may see that a protected mount exists (access) but not open it
        # (construct): the server then answers 401, as a camera with a password does.
        construct = "true" if public else "false"
        f.add_role_from_structure(
            Gst.Structure.new_from_string(
                "anonymous, media.factory.access=(boolean)true, "
                f"media.factory.construct=(boolean){construct}"
            )
        )
        mounts.add_factory(path, f)
        return f

    for k in range(1, args.streams + 1):
        scene = (k - 1) % 4 + 1
        add_clip(f"/cam{k}/main", f"{clips}/scene{scene}-main.h264")
        add_clip(f"/cam{k}/sub", f"{clips}/scene{scene}-sub.h264")
    add_clip("/h265/main", f"{clips}/scene1-main.h265", "h265")
    add_clip("/mjpeg", f"{clips}/scene1.mjpeg", "jpeg")
    add_clip("/secure/main", f"{clips}/scene2-main.h264", public=False)

    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    print(f"READY {args.port}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
