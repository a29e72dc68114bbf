"""Host views with no CRM code at all: crmify picks the changes up from the models."""

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def signup(request: HttpRequest) -> HttpResponse:
    user = User.objects.create(username=request.POST["username"], first_name=request.POST.get("first_name", ""),
                               last_name=request.POST.get("last_name", ""), email=request.POST.get("email", ""))
    return JsonResponse({"id": user.pk}, status=201)


@csrf_exempt
@require_POST
def rename(request: HttpRequest, pk: int) -> HttpResponse:
    user = User.objects.get(pk=pk)
    user.first_name = request.POST["first_name"]
    user.save()
    return JsonResponse({"id": user.pk})


@csrf_exempt
@require_POST
def close_account(request: HttpRequest, pk: int) -> HttpResponse:
    User.objects.filter(pk=pk).delete()
    return HttpResponse(status=204)
