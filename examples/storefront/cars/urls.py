from django.contrib.auth import views as auth_views
from django.urls import path

from cars import views
from cars.forms import LoginForm

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("cars/<int:pk>/", views.car_detail, name="car_detail"),
    path("cars/<int:pk>/buy/", views.car_buy, name="car_buy"),
    path("purchases/<int:pk>/checkout/", views.checkout, name="checkout"),
    path("purchases/<int:pk>/leave/", views.checkout_leave, name="checkout_leave"),
    path("account/", views.account, name="account"),
    path("welcome/", views.welcome, name="welcome"),
    path("signup/", views.sign_up, name="signup"),
    path("login/", auth_views.LoginView.as_view(template_name="cars/login.html", authentication_form=LoginForm),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
