from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.order_list, name="orders"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("signup/", views.signup, name="signup"),
    path("signup/<str:token>/", views.signup_complete, name="signup-complete"),
    path("account/", views.account, name="account"),
    path("account/customer/", views.switch_customer, name="switch-customer"),
    path("orders/new/", views.order_new, name="order-new"),
    path("orders/new/availability/", views.product_availability, name="availability"),
    path("orders/<str:number>/", views.order_detail, name="order"),
    path("orders/<str:number>/jobs/", views.order_jobs, name="order-jobs"),
    path("orders/<str:number>/epod/<str:ticket>.pdf", views.epod_pdf, name="order-epod"),
    path("orders/<str:number>/messages/", views.order_messages, name="order-messages"),
    path("orders/<str:number>/call-back/", views.order_callback, name="order-callback"),
    path("orders/<str:number>/call-off/", views.order_call_off_view, name="order-call-off"),
    path("orders/<str:number>/cancel/", views.order_cancel_view, name="order-cancel"),
    path("orders/<str:number>/return/", views.order_return_view, name="order-return"),
    path("sites/", views.site_list, name="sites"),
    path("sites/new/", views.site_edit, name="site-new"),
    path("sites/<uuid:site_id>/", views.site_edit, name="site-edit"),
]
