from django.urls import path

from portal.views import auth, order_actions, orders, sites

app_name = "portal"

urlpatterns = [
    path("", orders.order_list, name="orders"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("signup/", auth.signup, name="signup"),
    path("signup/<str:token>/", auth.signup_complete, name="signup-complete"),
    path("account/", auth.account, name="account"),
    path("account/customer/", auth.switch_customer, name="switch-customer"),
    path("orders/new/", orders.order_new, name="order-new"),
    path("orders/new/availability/", orders.product_availability, name="availability"),
    path("orders/<str:number>/", orders.order_detail, name="order"),
    path("orders/<str:number>/jobs/", orders.order_jobs, name="order-jobs"),
    path("orders/<str:number>/epod/<str:ticket>.pdf", orders.epod_file, name="order-epod"),
    path("orders/<str:number>/epod/<str:ticket>/<str:kind>/", orders.epod_file, name="order-epod-file"),
    path("orders/<str:number>/messages/", order_actions.order_messages, name="order-messages"),
    path("orders/<str:number>/call-back/", order_actions.order_callback, name="order-callback"),
    path("orders/<str:number>/call-off/", order_actions.order_call_off_view, name="order-call-off"),
    path("orders/<str:number>/pacing/", order_actions.order_pacing_view, name="order-pacing"),
    path("orders/<str:number>/cancel/", order_actions.order_cancel_view, name="order-cancel"),
    path("orders/<str:number>/return/", order_actions.order_return_view, name="order-return"),
    path("sites/", sites.site_list, name="sites"),
    path("sites/new/", sites.site_edit, name="site-new"),
    path("sites/<uuid:site_id>/", sites.site_edit, name="site-edit"),
]
