"""Browser steps cannot reach a host outside the allow-list by any road: redirect hops of the
page and of what it loads, iframes, fetch, WebSockets, service workers, preconnect and
prefetch, names under .localhost that point elsewhere.

The target is a listener on a real, non-loopback address of this machine that no project allows
(tests/executions/outside.py); every test asserts it accepted nothing. Real Chromium, real
pages served on loopback, the real engine.
"""

from urllib.parse import quote

import pytest

from executions.models import ExecutionStatus
from tests.executions.local_site import LocalSite, needs_browser, run_case
from tests.executions.outside import OutsideListener, localhost_alias
from tests.factories import TestCaseFactory

S = ExecutionStatus
# A refusal is recorded before the proxy answers it (runners/browser_proxy.py), so a step that
# waits for what the page sees of the answer (the proxy's 403 page, a failed load, a closed socket)
# finds the refusal recorded however late a loaded machine lets it arrive: no fixed waits here.
pytestmark = [pytest.mark.django_db, pytest.mark.browser, needs_browser]


@pytest.fixture(scope="module")
def site():
    with LocalSite() as running:
        yield running


@pytest.fixture
def outside():
    with OutsideListener() as listener:
        yield listener


def browser_case(project, *steps):
    return TestCaseFactory(
        project=project,
        steps=[{"name": s["do"], "action": "browser", "params": s} for s in steps],
    )


def page(site, html: str) -> str:
    return site.url("/html?src=" + quote(html))


def redirect(site, to: str) -> str:
    return site.url("/redirect?to=" + quote(to, safe=""))


def reported(steps, outside) -> bool:
    """Whether some step's trace names a request to the outside listener as blocked."""
    return any(
        outside.address in url
        for step in steps
        for url in ((step["actual"] or {}).get("blocked_requests") or [])
    )


def test_a_goto_redirected_outside_the_list_is_an_error_naming_the_host(project, site, outside):
    case = browser_case(project, {"do": "goto", "url": redirect(site, outside.url("/steal"))})
    execution, (step,) = run_case(case)

    assert outside.accepted == []
    assert execution.status == S.ERROR
    assert step["status"] == "error"
    assert step["error"]["type"] == "HostNotAllowed"
    assert f"{outside.address}:{outside.port}" in step["error"]["message"]
    assert step["actual"]["refused_url"] == outside.url("/steal")


def test_an_https_goto_redirected_outside_the_list_is_an_error(project, site, outside):
    """An https target goes through a CONNECT tunnel, which the proxy refuses by host:port."""
    case = browser_case(
        project, {"do": "goto", "url": redirect(site, outside.url("/steal", scheme="https"))}
    )
    _, (step,) = run_case(case)

    assert outside.accepted == []
    assert step["error"]["type"] == "HostNotAllowed"
    assert f"{outside.address}:{outside.port}" in step["error"]["message"]


def test_a_click_that_follows_a_redirect_outside_the_list_is_an_error(project, site, outside):
    link = f'<a id="go" href="{redirect(site, outside.url("/steal"))}">go</a>'
    case = browser_case(
        project,
        {"do": "goto", "url": page(site, link)},
        {"do": "click", "selector": "#go"},
        # The proxy's answer to the last hop; the refusal is in the trace by then.
        {"do": "expect_text", "selector": "body", "text": "refused", "timeout": 30},
    )
    _, steps = run_case(case)

    assert outside.accepted == []
    assert "HostNotAllowed" in [(s["error"] or {}).get("type") for s in steps]


def test_an_image_redirected_outside_the_list_is_left_out_with_a_warning(project, site, outside):
    html = f'<img src="{redirect(site, outside.url("/pixel.png"))}" onerror="done()">'
    html += "<p id=state>loading</p><script>function done(){state.textContent='failed'}</script>"
    case = browser_case(
        project,
        {"do": "goto", "url": page(site, html)},
        {"do": "expect_text", "selector": "#state", "text": "failed"},
    )
    execution, steps = run_case(case)

    assert outside.accepted == []
    assert execution.status == S.PASSED
    assert reported(steps, outside)


def test_an_iframe_redirected_outside_the_list_loads_nothing(project, site, outside):
    html = f'<iframe id=frame src="{redirect(site, outside.url("/frame"))}"></iframe>'
    case = browser_case(project, {"do": "goto", "url": page(site, html)})
    _, (step,) = run_case(case)

    assert outside.accepted == []
    assert reported([step], outside)


def test_fetch_from_the_page_reaches_nothing_outside_the_list(project, site, outside):
    script = f"""<p id=state>waiting</p><script>
    Promise.allSettled([fetch({outside.url("/direct")!r}),
                        fetch({redirect(site, outside.url("/redirected"))!r})])
      .then(r => {{ state.textContent = r.map(x => x.status).join(' '); }});
    </script>"""
    case = browser_case(
        project,
        {"do": "goto", "url": page(site, script)},
        {"do": "expect_text", "selector": "#state", "text": "rejected rejected"},
    )
    execution, steps = run_case(case)

    assert outside.accepted == []
    assert execution.status == S.PASSED, [s["error"] for s in steps]


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_a_websocket_to_a_host_outside_the_list_reaches_nothing(project, site, outside, scheme):
    script = f"""<p id=state>opening</p><script>
    const ws = new WebSocket({outside.url("/socket", scheme=scheme)!r});
    ws.onopen = () => {{ state.textContent = 'open'; }};
    ws.onclose = () => {{ state.textContent = 'closed'; }};
    </script>"""
    case = browser_case(
        project,
        {"do": "goto", "url": page(site, script)},
        {"do": "expect_text", "selector": "#state", "text": "closed"},
        {"do": "expect_title", "equals": ""},  # one more step: late reports land somewhere
    )
    _, steps = run_case(case)

    assert outside.accepted == []
    assert reported(steps, outside)


def test_a_pop_up_redirected_outside_the_list_loads_nothing(project, site, outside):
    # The opener watches its pop-up: reading its location throws once the pop-up shows a page
    # of another origin, here the proxy's answer to the hop outside.
    html = f"""<p id=state>-</p><button id=go onclick="watch(window.open(
    {redirect(site, outside.url("/popup"))!r}))">go</button><script>
    function watch(w) {{ const t = setInterval(() => {{
      try {{ if (w.location.host && w.location.host !== location.host) throw 0; }}
      catch (e) {{ clearInterval(t); state.textContent = 'left'; }} }}, 50); }}</script>"""
    case = browser_case(
        project,
        {"do": "goto", "url": page(site, html)},
        {"do": "click", "selector": "#go"},
        {"do": "expect_text", "selector": "#state", "text": "left", "timeout": 30},
    )
    _, steps = run_case(case)

    assert outside.accepted == []
    assert reported(steps, outside)


def test_webrtc_sends_no_udp_outside_the_proxy(project, site, outside):
    """STUN goes over UDP, which no HTTP proxy carries: Chromium may not send it at all."""
    script = f"""<p id=state>gathering</p><script>
    const pc = new RTCPeerConnection({{iceServers: [{{urls: 'stun:{outside.address}:{outside.port}'}}]}});
    pc.createDataChannel('x');
    pc.onicegatheringstatechange = () => {{
        if (pc.iceGatheringState === 'complete') state.textContent = 'done'; }};
    pc.createOffer().then(o => pc.setLocalDescription(o));</script>"""
    case = browser_case(
        project,
        {"do": "goto", "url": page(site, script)},
        {"do": "expect_text", "selector": "#state", "text": "done", "timeout": 30},
    )
    execution, steps = run_case(case)

    assert outside.accepted == []
    assert execution.status == S.PASSED, [s["error"] for s in steps]


def test_preconnect_prefetch_and_dns_prefetch_reach_nothing(project, site, outside):
    target = outside.url()
    links = "".join(
        f'<link rel="{rel}" href="{href}">'
        for rel, href in [
            ("preconnect", target),
            ("dns-prefetch", target),
            ("prefetch", outside.url("/prefetched")),
            ("preload", outside.url("/preloaded.js")),
        ]
    )
    # A WebSocket that closes after the links were read: by then any preconnect was tried.
    script = f"""{links}<p id=state>-</p><script>
    const ws = new WebSocket({outside.url("/late", scheme="ws")!r});
    ws.onclose = () => {{ state.textContent = 'closed'; }};</script>"""
    case = browser_case(
        project,
        {"do": "goto", "url": page(site, script)},
        {"do": "expect_text", "selector": "#state", "text": "closed"},
    )
    run_case(case)

    assert outside.accepted == []


def test_a_service_worker_registration_is_refused(project, site):
    """Playwright's service_workers="block" makes register() resolve to nothing."""
    script = """<p id=state>-</p><script>
    navigator.serviceWorker.register('/html?src=x&type=text/javascript')
      .then(r => { state.textContent = r ? 'registered' : 'refused'; },
            () => { state.textContent = 'refused'; });</script>"""
    case = browser_case(
        project,
        {"do": "goto", "url": page(site, script)},
        {"do": "expect_text", "selector": "#state", "text": "refused"},
    )
    execution, steps = run_case(case)

    assert execution.status == S.PASSED, [s["error"] for s in steps]


def test_a_fresh_frame_cannot_register_a_service_worker_either(project, site, outside):
    """The block is a script in the page, so a fresh frame's realm is the obvious way around
    it; the script is in there too. (Should a worker ever start, its requests still go through
    Chromium's network stack and so through the proxy.)"""
    worker = f"""self.addEventListener('install', e => e.waitUntil(
      Promise.allSettled([fetch({outside.url("/from-worker")!r}),
                          fetch({redirect(site, outside.url("/worker-redirect"))!r})])));"""
    worker_url = "/html?type=text/javascript&src=" + quote(worker)
    script = f"""<p id=state>-</p><iframe id=f src="about:blank"></iframe><script>
    const c = document.getElementById('f').contentWindow.navigator.serviceWorker;
    c.register({worker_url!r}).then(r => {{
        if (!r) {{ state.textContent = 'blocked'; return; }}
        const w = r.installing || r.waiting || r.active;
        if (w.state !== 'installing') {{ state.textContent = 'installed'; return; }}
        w.onstatechange = () => {{ if (w.state !== 'installing') state.textContent = 'installed'; }};
      }}, e => {{ state.textContent = 'error ' + e; }});</script>"""
    case = browser_case(
        project,
        {"do": "goto", "url": page(site, script)},
        {"do": "wait_for", "selector": "#state:not(:text('-'))"},
        {"do": "text", "selector": "#state"},
    )
    _, steps = run_case(case)

    assert steps[-1]["actual"]["text"] == "blocked"
    assert outside.accepted == []


def test_a_localhost_name_pointing_outside_is_refused_by_its_address(project, outside):
    with localhost_alias(outside.address) as alias:
        case = browser_case(project, {"do": "goto", "url": f"http://{alias}:{outside.port}/"})
        _, (step,) = run_case(case)

    assert outside.accepted == []
    assert step["error"]["type"] == "HostNotAllowed"
    assert f"resolves to {outside.address}" in step["error"]["message"]


def test_pages_on_allowed_hosts_still_load_through_the_proxy(project, site):
    html = '<p id=state>-</p><script>fetch("/json").then(r => r.json())'
    html += ".then(j => { state.textContent = 'count ' + j.count; });</script>"
    case = browser_case(
        project,
        {"do": "goto", "url": redirect(site, page(site, html))},
        {"do": "expect_text", "selector": "#state", "text": "count 2"},
    )
    execution, steps = run_case(case)

    # Where each step left the page (url, title, status) says which hop went wrong if this fails.
    trail = [(s["status"], s["actual"], s["error"]) for s in steps]
    assert execution.status == S.PASSED, trail
    assert [s["status"] for s in steps] == ["passed", "passed"], trail
