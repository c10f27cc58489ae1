"""The pages of 公金決済: the person's payments, paying, the receipt; the simulated provider.

The provider's checkout (``/payment-provider/…``) belongs to the payment company, not to the
portal: it has its own look and says so. It is served here only because the demo's provider
runs in this process.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute

from openmyna.errors import InvalidInput, NotFound
from openmyna.portal.pages import PageDep, PageRoute, same_origin
from openmyna.portal.payments.provider import PaymentMethod, SimulatedProvider


def _method(value: str) -> PaymentMethod:
    try:
        return PaymentMethod(value)
    except ValueError:
        raise InvalidInput("choose クレジットカード or ペイジー") from None


def routes() -> list[BaseRoute]:
    """The payment pages."""
    router = APIRouter(route_class=PageRoute)

    @router.get("/payments", response_class=HTMLResponse, tags=["portal"])
    def payment_list(page: PageDep) -> Response:
        """公金決済: the person's taxes, premiums and fees to pay, and those paid."""
        session = page.require_login()
        account = page.portal.accounts.get(session.account_id)
        found = page.portal.payments.of_person(account.portal_code)
        return page.render("payments/list.html", payments=found, agencies=_names(page))

    @router.get("/payments/return", tags=["portal"], include_in_schema=False)
    def returned(page: PageDep, ref: str = "", outcome: str = "", sig: str = "") -> Response:
        """Back from the payment company: record the outcome, show the receipt."""
        session = page.require_login()
        account = page.portal.accounts.get(session.account_id)
        payment = page.portal.payments.complete(
            account.portal_code, ref[:64], outcome[:16], sig[:128]
        )
        if payment.status == "paid":
            return page.redirect(f"/payments/{payment.payment_id}/receipt")
        return page.redirect(f"/payments/{payment.payment_id}?declined=1")

    @router.get("/payments/{payment_id}", response_class=HTMLResponse, tags=["portal"])
    def payment_page(page: PageDep, payment_id: str) -> Response:
        """One payment: what, to whom, how much, by when; pay it by card or Pay-easy."""
        session = page.require_login()
        account = page.portal.accounts.get(session.account_id)
        payment = page.portal.payments.get(account.portal_code, payment_id[:32])
        return page.render(
            "payments/payment.html",
            payment=payment,
            agencies=_names(page),
            attempt_id=secrets.token_hex(16),
            attempts=page.portal.payments.attempts(account.portal_code, payment.payment_id),
        )

    @router.post("/payments/{payment_id}/pay", tags=["portal"], include_in_schema=False)
    def pay(
        page: PageDep,
        payment_id: str,
        method: Annotated[str, Form(max_length=16)],
        attempt_id: Annotated[str, Form(max_length=64)],
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        """Start paying: to the payment company's checkout."""
        session = page.require_csrf(csrf_token)
        account = page.portal.accounts.get(session.account_id)
        url = page.portal.payments.start(
            account.portal_code,
            payment_id[:32],
            attempt_id=attempt_id,
            method=_method(method),
            return_url="/payments/return",
        )
        return RedirectResponse(url, status_code=303)

    @router.get("/payments/{payment_id}/receipt", response_class=HTMLResponse, tags=["portal"])
    def receipt(page: PageDep, payment_id: str) -> Response:
        """The receipt of a paid payment (領収証書)."""
        session = page.require_login()
        account = page.portal.accounts.get(session.account_id)
        payment = page.portal.payments.get(account.portal_code, payment_id[:32])
        if payment.status != "paid":
            return page.redirect(f"/payments/{payment.payment_id}")
        return page.render("payments/receipt.html", payment=payment, agencies=_names(page))

    # --- the simulated payment company (a third party's pages) ---------------------------------

    @router.get("/payment-provider/checkout/{ref}", response_class=HTMLResponse, tags=["portal"])
    def provider_checkout(page: PageDep, ref: str) -> Response:
        """The simulated payment company's checkout page (the demo's provider)."""
        provider = _simulated(page)
        checkout = provider.checkout(ref[:64])
        return page.render(
            "payments/provider.html", checkout=checkout, ref=ref, agencies=_names(page)
        )

    @router.post("/payment-provider/checkout/{ref}", tags=["portal"], include_in_schema=False)
    def provider_pay(
        page: PageDep,
        ref: str,
        card_number: Annotated[str | None, Form(max_length=32)] = None,
    ) -> Response:
        """The person confirms at the simulated payment company."""
        same_origin(page.request)
        url, _charge = _simulated(page).pay(ref[:64], card_number=card_number)
        return RedirectResponse(url, status_code=303)

    return list(router.routes)


def _simulated(page: PageDep) -> SimulatedProvider:
    provider = page.portal.payments.provider
    if not isinstance(provider, SimulatedProvider):
        raise NotFound("this installation's payment company is not simulated")
    return provider


def _names(page: PageDep) -> dict[str, str]:
    """Agency names by id (the network's directory), for payees."""
    return dict(page.portal.network.names.agencies)
