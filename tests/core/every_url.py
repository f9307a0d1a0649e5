"""Every URL the site answers, walked from the URL resolver, with a concrete path for each.

A new page or endpoint shows up here without anyone listing it, so the tests built on this list
(every URL needs a sign-in; every POST needs a CSRF token; every page has a row in the role table)
catch a URL that was added without thinking about who may open it.
"""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RoutePattern

SAMPLE_ID = "1"


@dataclass(frozen=True)
class Url:
    name: str  # "namespace:name", or the path itself for an unnamed pattern
    path: str

    @property
    def in_admin(self) -> bool:
        return self.path.startswith("/admin/")


def every_url() -> list[Url]:
    urls = [Url(name, "/" + concrete(route)) for route, name in _walk(get_resolver().url_patterns)]
    for url in urls:
        resolve(url.path)  # a path we built wrongly would test a 404 instead of the page
    return urls


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace) if part) or None
            yield from _walk(pattern.url_patterns, prefix + _source(pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + _source(pattern)
            named = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
            yield route, named or route


def _source(pattern) -> str:
    text = str(pattern.pattern)
    if isinstance(pattern.pattern, RoutePattern):
        return re.sub(r"<[^>]+>", SAMPLE_ID, text)
    return text


def concrete(route: str) -> str:
    """A path that the route matches: sample ids for parameters, one real choice for each regex."""
    path = route.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<app_label>([a-z_]+)\|[^)]*\)", r"\1", path)  # the admin's app pages
    path = path.replace("(?P<url>.*)", "no-such-page/")  # the admin's catch-all
    return path.replace("([^/]+)", SAMPLE_ID)
