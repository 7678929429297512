"""The sandbox page in a real browser (Debian's Chromium through Playwright): alice asks, bob approves,
bob shifts traffic and finishes, the thread shows the deployment succeed."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from sandbox.aws.moto_ext import CONTROL
from sandbox.runner import Sandbox
from tests.conftest import running_bot

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield browser
        await browser.close()


@pytest.fixture
async def bot(
    sandbox: Sandbox, tmp_path: Path, transport: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[object]:
    """As `deploybot demo` runs it, so the pages look as a newcomer sees them: the bot, Slack's message
    times and the local AWS on the sandbox's one clock."""
    monkeypatch.setattr(sandbox.slack.ws, "clock", lambda: CONTROL.clock.now().timestamp())
    async with running_bot(sandbox, tmp_path, transport, monkeypatch, clock=sandbox.now) as runtime:
        yield runtime


async def act_as(page: Page, user: str) -> None:
    await page.get_by_test_id("user-switcher").select_option(user)


async def click_in_root(page: Page, label: str) -> None:
    await page.locator("#messages .block-actions button", has_text=label).last.click()


@pytest.mark.browser
@pytest.mark.parametrize("transport", ["socket"])
async def test_full_flow_in_the_browser(sandbox: Sandbox, bot: object, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 1500, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{sandbox.slack.base_url}/")
    await expect(page.locator("#transport")).to_contain_text("connected (Socket Mode)")
    await expect(page.locator(".svc[data-service=web1]")).to_contain_text("running v1.2.2")

    await act_as(page, "U0ALICE")
    await page.get_by_test_id("composer").fill("/deploy web1 v1.2.3")
    await page.get_by_test_id("composer").press("Enter")
    await expect(page.locator("#messages .block-header").last).to_have_text("Deploy web1 v1.2.3")
    await expect(page.locator("#messages")).to_contain_text("Waiting for approval")

    await act_as(page, "U0BOB")
    await click_in_root(page, "Approve")
    await expect(page.locator("#messages")).to_contain_text("Approved by")
    await page.locator("#messages .replies").last.click()
    await expect(page.locator("#thread")).to_contain_text("created with")

    await page.get_by_role("button", name="+1 min").click()
    await expect(page.locator("#thread")).to_contain_text("Green is up", timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "sandbox-codedeploy-ready.png"), full_page=True)
    await click_in_root(page, "Shift traffic")
    await page.locator("#modal-confirm").click()  # the button's confirm dialog
    await expect(page.locator("#thread")).to_contain_text("started shifting traffic")
    await page.get_by_role("button", name="+5 min").click()
    await page.get_by_role("button", name="+1 min").click()
    await expect(page.locator("#thread")).to_contain_text("All traffic is on green", timeout=10_000)
    await expect(page.locator(".svc[data-service=web1]")).to_contain_text("100% new")
    await expect(page.locator("#messages")).to_contain_text("min left)")
    assert re.search(r"\(([1-5]) min left\)", await page.locator("#messages").inner_text())  # the bake's 5 min
    await page.screenshot(path=str(ARTIFACTS / "sandbox-codedeploy-baking.png"), full_page=True)
    await click_in_root(page, "Finish now")
    await page.locator("#modal-confirm").click()
    await expect(page.locator("#thread")).to_contain_text("is live", timeout=10_000)
    await expect(page.locator("#messages")).to_contain_text("Deployed")
    await expect(page.locator(".svc[data-service=web1]")).to_contain_text("running v1.2.3")
    assert errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "sandbox-page.png"), full_page=True)
    await page.get_by_test_id("composer").fill("/deploy stats web1")
    await page.get_by_test_id("composer").press("Enter")
    await expect(page.locator("#messages")).to_contain_text("Delivery of web1")
    await expect(page.locator("#messages")).to_contain_text("Change failure rate")
    await page.screenshot(path=str(ARTIFACTS / "sandbox-stats.png"), full_page=True)
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("transport", ["socket"])
async def test_an_ecs_blue_green_pause_in_the_browser(sandbox: Sandbox, bot: object, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 1500, "height": 1100})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{sandbox.slack.base_url}/")
    shop = page.locator(".svc[data-service=shop]")
    await expect(shop).to_contain_text("ECS · BLUE_GREEN")
    await expect(page.locator(".svc[data-service=api-staging]")).to_contain_text("account 210987654321 (eu-west-1)")
    await expect(page.locator(".svc[data-service=shop-staging]")).to_contain_text("fail next: its tasks exit")

    await act_as(page, "U0ALICE")
    await page.get_by_test_id("composer").fill("/deploy shop v1.2.3")
    await page.get_by_test_id("composer").press("Enter")
    await expect(page.locator("#messages")).to_contain_text("blue/green, bake 5 min, 1 pause hook")
    await act_as(page, "U0BOB")
    await click_in_root(page, "Approve")
    await page.locator("#messages .replies").last.click()
    await expect(page.locator("#thread")).to_contain_text("created with")
    await page.get_by_role("button", name="+1 min").click()
    await page.get_by_role("button", name="+1 min").click()
    await expect(page.locator("#thread")).to_contain_text("Production traffic stays on blue", timeout=10_000)
    await expect(shop).to_contain_text("PRODUCTION_TRAFFIC_SHIFT ⏸ paused")
    await expect(shop).to_contain_text("0% new · test 100%")
    await expect(shop).to_contain_text("running v1.2.2")  # blue serves until the pause is opened
    await expect(page.locator("#messages")).to_contain_text("then ECS rolls back to blue")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "sandbox-ecs-pause.png"), full_page=True)
    await click_in_root(page, "Shift traffic")
    await page.locator("#modal-confirm").click()
    await expect(page.locator("#thread")).to_contain_text("started shifting traffic")
    for _ in range(7):
        await page.get_by_role("button", name="+1 min").click()
    await expect(page.locator("#thread")).to_contain_text("is live", timeout=10_000)
    await expect(shop).to_contain_text("running v1.2.3")
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("transport", ["socket"])
async def test_the_page_shows_names_emoji_and_24_hour_times(sandbox: Sandbox, bot: object, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    icon = await page.request.get(f"{sandbox.slack.base_url}/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    await page.goto(f"{sandbox.slack.base_url}/")
    await act_as(page, "U0BOB")
    await page.get_by_test_id("composer").fill("/deploy lock web1 maintenance")
    await page.get_by_test_id("composer").press("Enter")
    locked = page.locator("#messages .msg:not(.ephemeral)", has_text="locked web1")
    await expect(locked.last).to_contain_text("🔒")  # :lock: as the emoji, not as text
    await page.get_by_test_id("composer").fill("/deploy web2 v1.2.3 to staging")
    await page.get_by_test_id("composer").press("Enter")
    # The answer names the channel as Slack shows it (#deploys), not by its id.
    await expect(page.locator("#messages")).to_contain_text("follow it in #deploys")
    assert "#C0DEPLOYS" not in await page.locator("#messages").inner_text()
    times = await page.locator("#messages .msg .when").all_inner_texts()
    assert times and all(re.fullmatch(r"\d{2}:\d{2}:\d{2}", t.strip()) for t in times), times
    # At 1280 px, a long deployment config wraps inside its service's card instead of running out of it.
    card = page.locator(".svc[data-service=web1]")
    overflow = await card.evaluate("el => el.scrollWidth - el.clientWidth")
    assert overflow <= 0, overflow
    assert errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "sandbox-page-1280.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.parametrize("transport", ["socket"])
async def test_home_tab_and_deploy_dialog_in_the_browser(sandbox: Sandbox, bot: object, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{sandbox.slack.base_url}/")
    await sandbox.slack.slash("web1 v1.2.3", user="U0ALICE")
    await act_as(page, "U0BOB")
    await page.get_by_test_id("home-tab").click()
    home = page.get_by_test_id("home")
    await expect(home).to_contain_text("Waiting for your approval")
    await expect(home).to_contain_text("What runs where")
    await expect(home).to_contain_text("v1.2.2")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "sandbox-home-1280.png"), full_page=True)
    await home.get_by_role("button", name="Approve").click()
    await expect(home).not_to_contain_text("Waiting for your approval")
    await expect(home).to_contain_text("In flight")

    await act_as(page, "U0ALICE")  # the tab follows the person: hers has no Approve button
    await expect(home).to_contain_text("Deploy web1 v1.2.3")
    await expect(home).not_to_contain_text("Opening")
    await expect(home.get_by_role("button", name="Approve")).to_have_count(0)
    await home.get_by_role("button", name="Deploy…").click()  # the Home tab's way in
    dialog = page.get_by_test_id("view-modal")
    await expect(dialog).to_be_visible()
    await dialog.locator("select[data-pick=dialog_app]").select_option("web2")
    await expect(dialog.locator("select[data-pick=dialog_environment]")).to_be_visible()
    await dialog.locator("select[data-pick=dialog_environment]").select_option("staging")
    version = dialog.locator("#ext-input")
    await version.click()
    suggestions = page.get_by_test_id("suggestions")
    await expect(suggestions).to_contain_text("running now")
    await version.press_sequentially("1.2.3")
    await expect(suggestions.locator("[data-suggestion]")).to_have_count(1)
    await page.screenshot(path=str(ARTIFACTS / "sandbox-dialog-1280.png"))
    await suggestions.locator("[data-suggestion=v1\\.2\\.3]").click()
    await dialog.get_by_role("button", name="Ask to deploy").click()
    await expect(dialog).to_be_hidden()
    await expect(home).to_contain_text("Deploy web2 v1.2.3 to staging")  # in flight on her tab, then the channel
    await page.locator("#channels li", has_text="deploys").click()
    await expect(page.locator("#messages .block-header", has_text="Deploy web2 v1.2.3 to staging")).to_be_visible()
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("transport", ["socket"])
async def test_a_freeze_and_an_emergency_in_the_browser(sandbox: Sandbox, bot: object, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{sandbox.slack.base_url}/")
    await act_as(page, "U0BOB")
    composer = page.get_by_test_id("composer")
    await composer.fill("/deploy freeze web1 3h quiet week before the sale")
    await composer.press("Enter")
    await expect(page.locator("#messages")).to_contain_text("froze web1 until")
    await act_as(page, "U0ALICE")
    await composer.fill("/deploy web1 v1.2.3")
    await composer.press("Enter")
    await expect(page.locator("body")).to_contain_text("Nothing new is deployed during a freeze")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "sandbox-freeze-refused.png"), full_page=True)
    await act_as(page, "U0BOB")
    await composer.fill('/deploy web1 v1.2.3 --emergency "checkout is down for EU customers"')
    await composer.press("Enter")
    await expect(page.locator("#messages .block-header").last).to_contain_text("Emergency: deploy web1 v1.2.3")
    await expect(page.locator("#messages")).to_contain_text("without approval and past any change freeze")
    await page.screenshot(path=str(ARTIFACTS / "sandbox-emergency.png"), full_page=True)
    await page.get_by_test_id("home-tab").click()
    home = page.get_by_test_id("home")
    await expect(home).to_contain_text("Change freezes")
    await expect(home).to_contain_text("quiet week before the sale")
    await page.screenshot(path=str(ARTIFACTS / "sandbox-home-freeze.png"), full_page=True)
    await page.locator("#channels li", has_text="deploys").click()
    await composer.fill("/deploy unfreeze web1")
    await composer.press("Enter")
    await expect(page.locator("#messages")).to_contain_text("lifted the freeze on web1")
    await page.screenshot(path=str(ARTIFACTS / "sandbox-unfreeze.png"), full_page=True)
    assert errors == []


@pytest.mark.browser
@pytest.mark.parametrize("transport", ["socket"])
async def test_a_line_in_the_browser(sandbox: Sandbox, bot: object, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{sandbox.slack.base_url}/")
    composer = page.get_by_test_id("composer")
    await act_as(page, "U0ALICE")
    await composer.fill("/deploy web1 v1.2.3")
    await composer.press("Enter")
    await expect(page.locator("#messages")).to_contain_text("Waiting for approval")
    await act_as(page, "U0DAVE")
    await composer.fill("/deploy web1 v1.2.3 --queue")
    await composer.press("Enter")
    await expect(page.locator("body")).to_contain_text("is #1 in line after")
    await expect(page.locator("#messages")).to_contain_text("🚏 In line")
    await expect(page.locator("#messages .block-actions button", has_text="Leave the line")).to_have_count(1)
    await composer.fill("/deploy status web1")
    await composer.press("Enter")
    await expect(page.locator("body")).to_contain_text("What runs where")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "sandbox-line.png"), full_page=True)
    await act_as(page, "U0ALICE")
    await page.locator("#messages .block-actions button", has_text="Cancel").first.click()
    await expect(page.locator("#messages .block-actions button", has_text="Approve")).to_have_count(1)  # Dave's
    await page.locator("#messages .replies").last.click()
    await expect(page.locator("#thread")).to_contain_text("this request is next")
    await page.screenshot(path=str(ARTIFACTS / "sandbox-line-turn.png"), full_page=True)
    await act_as(page, "U0CAROL")  # the dialog's way into the line: its box
    await composer.fill("/deploy web1")
    await composer.press("Enter")
    dialog = page.get_by_test_id("view-modal")
    await expect(dialog).to_contain_text("Wait in line")
    await dialog.locator("#ext-input").click()
    await dialog.locator("#ext-input").press_sequentially("1.2.3")
    await page.get_by_test_id("suggestions").locator("[data-suggestion=v1\\.2\\.3]").click()
    await dialog.get_by_role("button", name="Ask to deploy").click()
    await expect(dialog).to_contain_text("tick “Wait in line”")  # busy: refused in place
    await dialog.get_by_role("checkbox").check()
    await page.screenshot(path=str(ARTIFACTS / "sandbox-dialog-line.png"))
    await dialog.get_by_role("button", name="Ask to deploy").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("body")).to_contain_text("is #1 in line after")
    assert errors == []
