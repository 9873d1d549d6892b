"""What one anonymous visitor's uploads may cost the server (issue 27): memory and shape per file,
decodes at once, decode time per batch and per minute, files and bytes per batch and per session,
uploads freed when the visitor leaves; and a model whose picture could not be made is still saved once.

Each finding is followed through the Denoising page (AppTest) or a real server; core tests are extra.
"""

import asyncio
import io
import logging
import re
import threading
import time
import urllib.request
import zlib

import pytest
from PIL import Image, ImageFile

from bench.bench_hostile import forged_scan_bomb, rle8_bmp_bomb, scan_bomb_jpeg, tall_png, upload_batch
from bench.load_probe import PageCheck, Session, digit_png, run_sync
from core import images
from tests.app_server import start_server, stop_server
from tests.pages import APP, open_app_page

UPLOAD_TAB = {"den_tab": "Upload"}


def png_header(width: int, height: int, colour_type: int = 0, depth: int = 8) -> bytes:
    """A PNG whose header claims width x height pixels of a colour type, with a valid checksum and no
    pixel data worth decoding: anything refused on the header is refused before decoding."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:26] = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes((depth, colour_type))
    data[29:33] = zlib.crc32(data[12:29]).to_bytes(4, "big")
    return bytes(data)


def no_decoding(monkeypatch, size: tuple[int, int] | None = None) -> None:
    """Fail the test when Pillow decodes an image's pixels (of `size` only: a page draws images of its own)."""
    load = ImageFile.ImageFile.load

    def checked(self):
        if size is None or self.size == size:
            pytest.fail(f"pixels of a {self.size} image were decoded")
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", checked)


def one_sentence(text: str) -> bool:
    return text.endswith(".") and text.count(". ") == 0 and "\n" not in text and "Traceback" not in text


def upload(at, files):
    at.get("file_uploader")[0].set_value(files).run()
    assert not at.exception, at.exception[0].value
    return at


def result_boxes(at) -> list:
    return [block for block in at.main if str(getattr(block, "key", "")).startswith("den_result_")]


# --- 2: shape and memory of one file ---------------------------------------------------------------

@pytest.mark.parametrize("colour_type, depth", [(4, 8), (6, 8), (0, 16), (3, 8)])  # grey+alpha, RGBA, 16-bit, palette
def test_a_png_one_pixel_wide_and_fifty_million_rows_tall_is_refused_on_its_header(monkeypatch, colour_type, depth):
    no_decoding(monkeypatch)
    with pytest.raises(ValueError, match="longer than the 10,000 px accepted on a side") as error:
        images.prepare_upload(png_header(1, 50_000_000, colour_type, depth))
    assert one_sentence(str(error.value))


def test_the_real_tall_png_bomb_is_refused_on_the_denoising_page_without_decoding(monkeypatch):
    bomb = tall_png()  # 1 x 50,000,000, grey and alpha: +1.7 GB while it was prepared
    assert len(bomb) < 200_000
    no_decoding(monkeypatch, (1, 50_000_000))
    at = upload(open_app_page("views/denoising.py", query_params=UPLOAD_TAB), ("tall.png", bomb, "image/png"))
    assert "longer than the 10,000 px accepted on a side" in at.error[0].value and not result_boxes(at)


def test_a_strip_is_refused_but_small_thin_images_are_not(monkeypatch):
    no_decoding(monkeypatch)
    with pytest.raises(ValueError, match="a strip more than 20 times longer"):
        images.prepare_upload(png_header(8_000, 300))


def test_the_memory_an_upload_would_need_is_bounded_before_decoding(monkeypatch):
    no_decoding(monkeypatch)
    with pytest.raises(ValueError, match=r"would need about \d{3} MB of memory to prepare, more than the 400 MB"):
        images.prepare_upload(png_header(7_000, 7_000, colour_type=6))  # RGBA, 49 MP: 13 bytes a pixel
    with pytest.raises(ValueError, match="MB of memory to prepare"):
        images.prepare_upload(png_header(7_000, 7_000, colour_type=0, depth=16))


def test_the_memory_estimate_covers_what_a_decode_really_takes():
    """The estimate for a 7 MP RGBA PNG is at least its measured peak (bench.bench_hostile.measure_upload)."""
    from bench.bench_hostile import measure_upload

    buffer = io.BytesIO()
    Image.new("RGBA", (3_000, 2_400), (255, 255, 255, 255)).save(buffer, "PNG")
    estimate = images.decode_memory(Image.open(io.BytesIO(buffer.getvalue())))
    _, grown_mb, outcome = measure_upload(buffer.getvalue())
    assert outcome == "accepted"
    assert grown_mb * 2**20 <= estimate


def test_at_most_two_uploads_are_decoded_at_once_and_a_third_waits(monkeypatch):
    inside, most, lock = [0], [0], threading.Lock()
    decode = images._decode

    def slow_decode(data):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.3)
        with lock:
            inside[0] -= 1
        return decode(data)

    monkeypatch.setattr(images, "_decode", slow_decode)
    threads = [threading.Thread(target=images.prepare_upload, args=(digit_png(i),)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == images.DECODES_AT_ONCE == 2


def test_a_busy_server_says_so_and_the_file_is_prepared_on_a_later_run(monkeypatch):
    taken = threading.BoundedSemaphore(1)
    taken.acquire()  # every slot in use by other visitors
    monkeypatch.setattr(images, "_decode_slots", taken)
    monkeypatch.setattr(images, "DECODE_WAIT_SECONDS", 0.05)
    at = upload(open_app_page("views/denoising.py", query_params=UPLOAD_TAB),
                [("a.png", digit_png(0), "image/png"), ("b.png", digit_png(1), "image/png")])
    assert [e.value for e in at.error] == [
        "**a.png**: The server is busy preparing other uploads; try again in a minute.",
        "**b.png**: Not prepared yet: the files before it used this run's preparing time (the server is busy); "
        "it is prepared when the page next runs."]
    taken.release()
    at.run()
    assert not at.error and len(result_boxes(at)) == 2  # busy was not kept as the files' answer


# --- 5: the JPEG scan counter reads markers as libjpeg does ---------------------------------------

def test_a_restart_marker_after_soi_no_longer_hides_the_scans(monkeypatch):
    forged = forged_scan_bomb(side=1_000, scans=1_000)
    assert images.jpeg_scans(forged) == 1_000
    no_decoding(monkeypatch, (1_000, 1_000))
    at = upload(open_app_page("views/denoising.py", query_params=UPLOAD_TAB), ("forged.jpg", forged, "image/jpeg"))
    assert "stored in 1,000 passes (scans)" in at.error[0].value and not result_boxes(at)


def test_the_forged_jpeg_is_one_libjpeg_decodes_whole():
    """FF D0 after SOI is no obstacle to the decoder, so the counter must not stop there either."""
    forged = forged_scan_bomb(side=64, scans=30)
    Image.open(io.BytesIO(forged)).load()
    assert images.jpeg_scans(forged) == 30


def test_an_end_marker_inside_a_comment_or_fill_bytes_do_not_stop_the_count():
    bomb = scan_bomb_jpeg(side=64, scans=30)
    first_scan = bomb.index(b"\xff\xda")
    hidden_end = b"\xff\xfe\x00\x06\xff\xd9\x00\x00"  # a comment segment holding FF D9
    with_comment = bomb[:first_scan] + hidden_end + bomb[first_scan:]
    with_fill = bomb[:first_scan] + b"\xff" * 5 + bomb[first_scan:]  # fill bytes before the first SOS
    with_stray = bomb[:first_scan] + b"\x12\x34" + bomb[first_scan:]  # bytes libjpeg skips with a warning
    for variant in (with_comment, with_fill, with_stray):
        Image.open(io.BytesIO(variant)).load()
        assert images.jpeg_scans(variant) == 30


# --- 6: decode time per batch and per session, Python decoders ------------------------------------

def test_seventeen_files_are_each_decoded_once_over_reruns_and_the_seventeenth_left_out(monkeypatch):
    from ui import widgets

    decoded = []
    prepare = images.prepare_upload
    monkeypatch.setattr(images, "prepare_upload", lambda data: decoded.append(len(data)) or prepare(data))
    files = [(f"digit-{i}.png", digit_png(i), "image/png") for i in range(17)]
    at = upload(open_app_page("views/denoising.py", query_params=UPLOAD_TAB), files)
    assert len(decoded) == widgets.MAX_BATCH_FILES == 16 and len(result_boxes(at)) == 16
    assert "so 1 were left out (digit-16.png)" in at.warning[0].value
    at.run()
    at.run()
    assert len(decoded) == 16 and len(result_boxes(at)) == 16  # reruns decode nothing again


def test_an_rle_bmp_bomb_is_refused_before_pillow_decodes_it_in_python():
    bomb = rle8_bmp_bomb()  # 29 KB, 49 megapixels: 4.5-9 s each in Pillow's Python decoder
    started = time.process_time()
    at = upload(open_app_page("views/denoising.py", query_params=UPLOAD_TAB),
                [(f"rle-{i}.bmp", rle8_bmp_bomb(tag=i), "image/bmp") for i in range(3)])
    assert len(bomb) < 30_000
    assert [e.value.split("**")[1] for e in at.error] == ["rle-0.bmp", "rle-1.bmp", "rle-2.bmp"]
    assert all("slow to decode (run-length compressed)" in e.value for e in at.error)
    assert time.process_time() - started < 30  # the page and its model; not 3 x 4.5 s of decoding


def test_a_small_rle_bmp_is_still_read():
    bomb = rle8_bmp_bomb(side=200)
    assert images.prepare_upload(bomb).image.shape == (28, 28)


def test_a_batch_spends_at_most_its_decode_time_and_the_rest_follow_on_later_runs(monkeypatch):
    from ui import widgets

    monkeypatch.setattr(widgets, "BATCH_DECODE_SECONDS", 1e-9)  # room for one file a run
    files = [(f"digit-{i}.png", digit_png(i), "image/png") for i in range(3)]
    at = upload(open_app_page("views/denoising.py", query_params=UPLOAD_TAB), files)
    assert len(result_boxes(at)) == 1
    assert [e.value.split("**")[1] for e in at.error] == ["digit-1.png", "digit-2.png"]
    assert all("Not prepared yet: the files before it used this run's preparing time" in e.value for e in at.error)
    at.run()
    at.run()
    assert len(result_boxes(at)) == 3 and not at.error


def test_a_session_spends_at_most_its_decode_time_a_minute(monkeypatch):
    from ui import widgets

    monkeypatch.setattr(widgets, "MINUTE_DECODE_SECONDS", 1e-9)
    files = [(f"digit-{i}.png", digit_png(i), "image/png") for i in range(2)]
    at = upload(open_app_page("views/denoising.py", query_params=UPLOAD_TAB), files)
    assert len(result_boxes(at)) == 1
    assert "used its 1e-09 s of preparing time for the last minute" in at.error[0].value
    spent = at.session_state["_upload_decode_seconds"]
    spent[:] = [(when - 61, seconds) for when, seconds in spent]  # a minute later
    at.run()
    assert len(result_boxes(at)) == 2 and not at.error


def test_a_batch_over_its_bytes_is_cut_with_one_warning(monkeypatch):
    from ui import widgets

    monkeypatch.setattr(widgets, "MAX_BATCH_BYTES", len(digit_png(0)) + len(digit_png(1)))
    files = [(f"digit-{i}.png", digit_png(i), "image/png") for i in range(4)]
    at = upload(open_app_page("views/denoising.py", query_params=UPLOAD_TAB), files)
    assert len(result_boxes(at)) == 2
    assert "so 2 were left out (digit-2.png, digit-3.png)" in at.warning[0].value


# --- 2: uploads at a real server: per session, and freed when the visitor leaves ------------------------

@pytest.fixture(scope="module")
def server():
    process, url = start_server()
    yield process, url
    stop_server(process)


def uploads_held(url: str) -> int:
    """Bytes of uploaded files the server holds, from Streamlit's own metrics."""
    with urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=60) as reply:
        text = reply.read().decode()
    found = re.search(r'cache_memory_bytes\{cache_type="UploadedFileManager"[^}]*\} (\d+)', text)
    return int(found[1]) if found else 0


def test_a_visitors_uploads_are_freed_when_the_visitor_leaves(server):
    _, url = server
    junk = [(f"junk-{i}.png", bytes([i]) * 3_000_000) for i in range(3)]

    async def upload_then_leave():
        async with Session(url, run_timeout=180) as session:
            tab = await session.open("Denoising", query_string="den_tab=Upload",
                                     check=PageCheck("Denoising", ("file_uploader",)))
            run, refused = await upload_batch(session, tab, "den_upload", junk)
            held = uploads_held(url)
        for _ in range(100):  # the server sees the websocket close a moment later
            if uploads_held(url) == 0:
                break
            await asyncio.sleep(0.1)
        return run, refused, held, uploads_held(url)

    run, refused, held_while_there, held_after = run_sync(upload_then_leave())
    assert refused == 0 and held_while_there >= 9_000_000
    assert sum("not a PNG, JPEG, BMP, GIF or WebP" in alert.body for alert in run.of("alert")) == 3
    assert held_after == 0  # before: held until the parked session was dropped, 11 minutes later


def test_a_session_may_hold_at_most_its_share_of_uploads(server):
    from ui import uploads

    _, url = server
    size = 9_900_000  # under the 10 MB per-file limit
    junk = [(f"junk-{i}.png", bytes([i]) * size) for i in range(6)]

    async def upload_many():
        async with Session(url, run_timeout=180) as session:
            tab = await session.open("Denoising", query_string="den_tab=Upload",
                                     check=PageCheck("Denoising", ("file_uploader",)))
            return (await upload_batch(session, tab, "den_upload", junk))[1]

    assert run_sync(upload_many()) == len(junk) - uploads.SESSION_UPLOAD_BYTES // size  # the rest: HTTP 413


# --- 10: a picture that cannot be written does not unsave a saved model -----------------------------------

def test_a_failed_picture_leaves_one_saved_model_and_says_so_truthfully(checkpoint_dir, monkeypatch, caplog):
    from streamlit.testing.v1 import AppTest

    from core import catalogue, files, thumbnails
    from tests.visitor_models import save_visitor_model

    def full_disk(path, record):
        raise files.WriteError("The file could not be saved: the server's disk is full.")

    monkeypatch.setattr(thumbnails, "_write", full_disk)
    with caplog.at_level(logging.WARNING, logger="core.pipeline"):
        path = save_visitor_model("no-picture")
    assert path.exists()
    saved = sorted(p.name for p in checkpoint_dir.rglob("*.safetensors"))
    assert saved == ["no-picture.safetensors"]
    assert "'no-picture' saved, but its picture was not made" in caplog.text
    (card,) = [c for c in catalogue.cards() if c.name == "no-picture"]
    assert card.problem is None and card.thumbnail is None
    home = AppTest.from_file(APP, default_timeout=60)
    home.run()
    assert not home.exception
    assert any("No picture yet" in m.value for m in home.markdown)
