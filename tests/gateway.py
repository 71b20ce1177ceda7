"""A stand-in for API Gateway in front of the function, over real HTTP on 127.0.0.1.

It does what Huawei Cloud documents, and nothing more:
- An API's path template (`/jobs/{job_id}`) with the method ANY, which huaweicloudsdkapig's API models list
  beside GET and POST (`req_method`), answers every method at its path; any other path is APIG.0101, 404.
- The request becomes the APIG event of FunctionGraph's developer guide (devg-functiongraph
  functiongraph_02_0741, "APIG event"): `httpMethod`, `path`, `pathParameters` from the template,
  `queryStringParameters` (the parameters after `?`, usermanual functiongraph_03_0860), the headers with
  lower-case names including `host`, `x-forwarded-proto` and `x-forwarded-port`, `requestContext`, and the body
  base64-encoded with `isBase64Encoded: true`, the default (usermanual functiongraph_01_0204).
  Repeated query parameters are not documented: they arrive as a list.
- The function must answer `{statusCode: int, headers: map, body: string, isBase64Encoded: bool}`, else the
  gateway answers 500 (FAQ functiongraph_03_0290); otherwise that status, those headers and that body are the
  HTTP response.

It passes nothing else on: a function that relied on more (a header the gateway does not set, a body that
is not base64) fails here as it would there.
"""

import base64
import json
import re
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from jobstep_tools.simulator import Loopback

_NO_API = json.dumps({"error_code": "APIG.0101", "error_msg": "The API does not exist or has not been published"})


def _pattern(template: str) -> re.Pattern:
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)))


def _well_formed(answer: Any) -> bool:
    return (isinstance(answer, dict) and type(answer.get("statusCode")) is int
            and isinstance(answer.get("headers"), dict) and isinstance(answer.get("body"), str)
            and isinstance(answer.get("isBase64Encoded"), bool))


class ApiGateway(Loopback):
    """Routes `templates` (each with the method ANY) to `invoke(event)`, the function's handler."""

    def __init__(self, invoke: Callable[[dict[str, Any]], Any], templates: tuple[str, ...] = ("/jobs/{job_id}",)):
        gateway = self
        self.routes = [_pattern(template) for template in templates]
        self.events: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall each

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.respond(*gateway.answer(self))

            do_POST = do_PUT = do_DELETE = do_GET

            def respond(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.invoke = invoke
        super().__init__(Handler)
        self.origin = f"http://127.0.0.1:{self.port}"

    def answer(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        target = urlsplit(request.path)
        matches = [route.fullmatch(target.path) for route in self.routes]
        match = next((found for found in matches if found), None)
        if match is None:
            return 404, {"Content-Type": "application/json"}, _NO_API.encode()
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        query = {name: values[0] if len(values) == 1 else values
                 for name, values in parse_qs(target.query, keep_blank_values=True).items()}
        headers = {name.lower(): value for name, value in request.headers.items()}
        headers.update({"x-forwarded-proto": "http", "x-forwarded-port": str(self.port)})
        event = {
            "body": base64.b64encode(body).decode(),
            "requestContext": {"apiId": "bc1dcffd-aa35-474d-897c-d53425a4c08e", "requestId": uuid.uuid4().hex,
                               "stage": "RELEASE"},
            "queryStringParameters": query,
            "httpMethod": request.command,
            "pathParameters": match.groupdict(),
            "headers": headers,
            "path": target.path,
            "isBase64Encoded": True,
        }
        self.events.append(event)
        answer = self.invoke(event)
        if not _well_formed(answer):
            return 500, {"Content-Type": "application/json"}, b'{"error_msg": "the function answered no response"}'
        text = answer["body"]
        content = base64.b64decode(text) if answer["isBase64Encoded"] else text.encode()
        return answer["statusCode"], {str(k): str(v) for k, v in answer["headers"].items()}, content

