"""PLACEHOLDER — the UI helper writes the real views."""
from django.http import HttpResponse


def home(request):
    return HttpResponse("Kith")


def invitation_accept(request, token):
    return HttpResponse("invitation")
