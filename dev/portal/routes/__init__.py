"""The reference portal's routes, one module per group; ``dev.portal.app.create_app`` adds them.

- ``member``: ``/member/...``, the login a member goes through;
- ``helpdesk``: ``/api/v1/...``, the helpdesk API the bot calls (service bearer token);
- ``admin``: ``/admin/v1/...``, staff closing unlock tickets (admin bearer token);
- ``common``: what they share: reading a request (JSON body, bearer token, client
  address), errors as answers, and the audit wrapper of the two APIs.
"""
