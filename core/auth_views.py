"""Signing in: the login forms (rate limited, core.throttling) and the token endpoint CI
uses to trade a username and password for its API token."""

from django.contrib.auth import views as django_auth_views
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core import serializers as strict
from core.throttling import login_blocked_for, login_rate_limited

# /accounts/login/ (the dashboard) and /api/v1/auth/login/ (the browsable API's form).
dashboard_login = login_rate_limited(django_auth_views.LoginView.as_view())
api_login = login_rate_limited(
    django_auth_views.LoginView.as_view(template_name="rest_framework/login.html")
)


class TokenCredentialsSerializer(serializers.Serializer):
    username = strict.CharField(max_length=150)
    password = strict.CharField(max_length=4096, trim_whitespace=False)


class TokenView(APIView):
    """POST /api/v1/auth/token/: a user's API token (created on first request) for their
    username and password. Throttled per client address (scope "token", IB_RATE_TOKEN), and
    refused like the login forms once an address has failed too often for a username."""

    permission_classes = [AllowAny]
    throttle_scope = "token"

    @extend_schema(
        summary="Get your API token for your username and password",
        description="401 for a wrong username or password; 429 when this address has tried "
        "too often (see Retry-After).",
        request=TokenCredentialsSerializer,
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
    )
    def post(self, request):
        fields = TokenCredentialsSerializer(data=request.data)
        fields.is_valid(raise_exception=True)
        username = fields.validated_data["username"]
        retry_after = login_blocked_for(request, username)
        if retry_after is not None:
            raise Throttled(retry_after, "Too many failed sign-ins for this user from here.")
        # AuthTokenSerializer calls authenticate() with the request, so a wrong password counts
        # towards the same limit as the login forms (user_login_failed).
        check = AuthTokenSerializer(data=fields.validated_data, context={"request": request})
        if not check.is_valid():
            raise AuthenticationFailed("Unable to sign in with that username and password.")
        token, _ = Token.objects.get_or_create(user=check.validated_data["user"])
        return Response({"token": token.key})
