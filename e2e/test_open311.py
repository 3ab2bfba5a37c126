"""Open311 GeoReport v2 on the running demo city, as civic apps use it: PyPI's `georeport`
client (written by others) reads the services, a service's definition and requests in XML and
JSON; then FixMyStreet's sequence is replayed by hand — list services, post a request with its
attributes (form-encoded, api_key), poll the request and the updates since a time."""

import datetime
import json
import urllib.error
import urllib.parse
import urllib.request

from georeport import GeoReport


def post(base_url, path, fields):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(base_url + path, data=data, method="POST")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_a_georeport_client_reads_services_and_requests(base_url, accounts):
    o = accounts["open311"]
    for fmt in ("xml", "json"):
        client = GeoReport(f"{base_url}/open311/v2", output_format=fmt)
        services = client.get_service_list()
        codes = [s["service_code"] for s in services]
        assert o["service_code"] in codes and "01" not in codes, codes
        definition = client.get_service_definition(o["service_code"])
        attributes = definition["attributes"]
        if fmt == "xml":
            attributes = attributes["attribute"]
            attributes = attributes if isinstance(attributes, list) else [attributes]
        assert attributes[0]["code"] == "cover_state"
        one = client.get_service_request(o["example_request"])
        assert one["service_request_id"] == o["example_request"]
        assert one["status"] in ("open", "closed")
    closed = GeoReport(f"{base_url}/open311/v2").get_service_requests(status="closed")
    assert closed and all(r["status"] == "closed" for r in closed)


def test_fixmystreets_sequence_post_then_poll_updates(base_url, accounts):
    o = accounts["open311"]
    since = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    fields = {
        "service_code": o["service_code"], "lat": "36.0650", "long": "120.3900",
        "description": "东海西路人行道井盖破损（随手拍）", "first_name": "小明", "last_name": "王",
        "email": "wang@example.invalid",
    }
    status, body = post(base_url, "/open311/v2/requests.json", fields)
    assert status == 403 and json.loads(body)[0]["code"] == 403, body
    fields["api_key"] = o["api_key"]
    status, body = post(base_url, "/open311/v2/requests.xml", fields)
    assert status == 400 and "<code>400</code>" in body and "cover_state" in body, body
    fields["attribute[cover_state]"] = "broken"
    status, body = post(base_url, "/open311/v2/requests.json", fields)
    assert status == 200, body
    request_id = json.loads(body)[0]["service_request_id"]
    with urllib.request.urlopen(f"{base_url}/open311/v2/requests/{request_id}.json") as r:
        req = json.loads(r.read())[0]
    assert req["status"] == "open" and req["requested_datetime"].endswith("+08:00"), req
    q = urllib.parse.urlencode({"start_date": since})
    with urllib.request.urlopen(f"{base_url}/open311/v2/servicerequestupdates.json?{q}") as r:
        updates = json.loads(r.read())
    mine = [u for u in updates if u["service_request_id"] == request_id]
    assert [u["status"] for u in mine][:2] == ["OPEN", "ACTION_SCHEDULED"], mine
