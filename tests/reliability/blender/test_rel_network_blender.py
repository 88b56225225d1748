"""The proxy and CA bundle preferences reach the client: a text_to_model operator run against the production host
name through the recording TLS-inspecting proxy (tests/reliability/mitm.py), which relays to the emulator. The host is
the add-on's default address, https://openapi.tripo3d.ai (v3); v2's api.tripo3d.ai/v2/openapi is routed as well."""

from __future__ import annotations

import bpy
import pytest
from mitm import Proxy, make_ca_and_cert
from rel_helpers import clear_message, task_posts

REMOTE = "https://openapi.tripo3d.ai"  # the default address (tripo_addon.api.dialect.GLOBAL_URL): v3
REMOTE_HOST = "openapi.tripo3d.ai:443"


@pytest.fixture
def corp(emulator, tmp_path, monkeypatch):
    ca, cert, key = make_ca_and_cert(tmp_path / "corp-ca", ["openapi.tripo3d.ai", "api.tripo3d.ai"])
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
                "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    proxy = Proxy({REMOTE_HOST: ("127.0.0.1", emulator.port, None),
                   "api.tripo3d.ai:443": ("127.0.0.1", emulator.port, None)}, cert, key)
    proxy.ca = str(ca)
    yield proxy
    proxy.close()


def test_operator_through_proxy_with_ca_bundle_preferences(ext, connected, corp):
    p = connected.prefs
    p.api_base_url = REMOTE
    p.proxy = corp.url
    p.ca_bundle = corp.ca
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.text_to_model(prompt="a chair behind a company proxy", wait=True) == {'FINISHED'}
    assert [o for o in bpy.data.objects if o not in before]
    assert ("CONNECT", REMOTE_HOST) in corp.log
    assert task_posts(connected.emulator, connected.api_key) == 1


def test_untrusted_proxy_certificate_is_a_clear_error(ext, connected, corp):
    p = connected.prefs
    p.api_base_url = REMOTE
    p.proxy = corp.url
    p.ca_bundle = ""
    with pytest.raises(RuntimeError) as info:
        bpy.ops.tripo.text_to_model(prompt="a chair behind a company proxy", wait=True)
    clear_message(str(info.value), "certificate", "CA bundle")
    assert connected.emulator.requests(key=connected.api_key) == []


def test_proxy_refusing_the_host_is_a_clear_error_not_a_lost_answer(ext, connected, corp):
    """The proxy refuses the tunnel to Tripo's host: nothing was sent, so the operator says the proxy refused (a
    network error) instead of "the answer was lost ... check your task history" (what it said before the fix)."""
    p = connected.prefs
    p.api_base_url = REMOTE
    p.proxy = corp.url
    p.ca_bundle = corp.ca
    del corp.routes[REMOTE_HOST]
    with pytest.raises(RuntimeError) as info:
        bpy.ops.tripo.text_to_model(prompt="a chair the proxy keeps out", wait=True)
    clear_message(str(info.value), "proxy")
    assert "answer was lost" not in str(info.value)
    assert ("CONNECT", REMOTE_HOST) in corp.log
    assert connected.emulator.requests(key=connected.api_key) == []
