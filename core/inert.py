"""Responses whose bytes a user chose (an upload, a page a test captured, an imported report's text):
served so that nothing in them can run in our origin.

`sandbox` makes a document an opaque origin with no script, no forms, no cookies of ours;
`default-src 'none'` lets it load nothing; `nosniff` stops a browser from guessing a more active
type than the one we send. Used by the attachment downloads (executions.views), the HTML reports
(results.api.common) and the suite badges (results.api.hooks); the rest of the site has the
django-csp policy of settings.CONTENT_SECURITY_POLICY, which a response that sets its own keeps.
"""

from django.http import HttpResponseBase

# Inline styles stay: a report's <style> block is its whole look, and a style cannot run code.
SANDBOX_POLICY = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


def served_inert(response: HttpResponseBase) -> HttpResponseBase:
    response["Content-Security-Policy"] = SANDBOX_POLICY
    response["X-Content-Type-Options"] = "nosniff"
    return response
