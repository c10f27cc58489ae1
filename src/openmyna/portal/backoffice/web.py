"""The back office's pages, under ``/backoffice``: the staff's desk at each municipality.

Every page needs a login (the person's own card) and every step is checked by the service
(``BackOffice``) against the staff register; the pages only choose what to show. Residents
are named by per-session handles in paths and forms, never by their resident-record code
or number. Every form is a POST with the session's CSRF token. A step refused for a reason
the clerk can fix (a missing document, a wrong PIN, a date out of range) shows the same
page again with the reason; a refusal of the person (no role, another municipality) is an
error page of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from openmyna.card.counter import IdentityDocument
from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.numbers import mask_resident_code
from openmyna.portal.backoffice.service import BackOffice, municipality_name
from openmyna.portal.backoffice.staff import Permission, Role, StaffMember
from openmyna.portal.errors import CsrfRefused, LoginRequired
from openmyna.portal.pages import Page, PageDep, PageRoute, page
from openmyna.portal.sessions import PortalSession

PREFIX = "/backoffice"
#: Identity documents one form may name (one 区分A, or two 区分B, with room to spare).
MAX_DOCUMENTS = 4
#: What a ``done`` query parameter may say (anything else is ignored).
DONE = frozenset(
    {
        "moved_within",
        "renamed",
        "died",
        "moved_out",
        "moved_in",
        "applied",
        "issued",
        "pin_reset",
        "suspended",
        "lifted",
        "returned",
    }
)

Documents = Annotated[list[str] | None, Form(max_length=40)]
Csrf = Annotated[str | None, Form()]


def backoffice_of(request: Request) -> BackOffice:
    """The back office serving the app (``app.state.backoffice``)."""
    found: BackOffice = request.app.state.backoffice
    return found


def _documents(chosen: list[str] | None) -> list[str]:
    picked = [d for d in (chosen or []) if d.strip()]
    if len(picked) > MAX_DOCUMENTS:
        raise InvalidInput("too many identity documents")
    return picked


def _error_page(request: Request, error: OpenMynaError) -> Response:
    context = page(request)
    return context.render("backoffice/error.html", status=error.http_status, error=error)


class _StaffErrors(APIRoute):
    """Domain errors of a back-office page as the back office's error page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, wrapped."""
        handler = super().get_route_handler()

        async def serve(request: Request) -> Response:
            try:
                return await handler(request)
            except (LoginRequired, CsrfRefused):
                raise  # the portal's own answers: the login page, the CSRF page
            except OpenMynaError as exc:
                return _error_page(request, exc)

        return serve


class BackOfficeRoute(PageRoute, _StaffErrors):
    """A back-office page: the portal's page handling, with the back office's error page."""


def _member(page: Page, lg_code: str) -> tuple[PortalSession, StaffMember]:
    session = page.require_login()
    member = backoffice_of(page.request).require(session, lg_code, Permission.READ_RESIDENTS)
    return session, member


def _context(member: StaffMember) -> dict[str, Any]:
    return {
        "member": member,
        "lg_code": member.lg_code,
        "municipality": municipality_name(member.lg_code),
        "may": {p.value: member.may(p) for p in Permission},
        "documents_a": [d for d in IdentityDocument if d.photo_id],
        "documents_b": [d for d in IdentityDocument if not d.photo_id],
    }


def routes() -> list[BaseRoute]:
    """The back office's pages and forms."""
    router = APIRouter(prefix=PREFIX, route_class=BackOfficeRoute)

    @router.get("", response_class=HTMLResponse, tags=["backoffice"])
    def home(page: PageDep) -> Response:
        """The back office: the municipalities a member of staff works for, and their role."""
        session = page.require_login()
        grants = backoffice_of(page.request).grants(session)
        return page.render(
            "backoffice/home.html",
            grants=[(g, municipality_name(g.lg_code)) for g in grants],
            staff_id=_grouped(session.account_id),
        )

    # --- the desk and the resident search ----------------------------------------------------

    def desk(page: Page, lg_code: str, *, status: int = 200, **extra: Any) -> Response:
        _, member = _member(page, lg_code)
        return page.render("backoffice/desk.html", status=status, **_context(member), **extra)

    @router.get("/{lg_code}", response_class=HTMLResponse, include_in_schema=False)
    def desk_page(page: PageDep, lg_code: str) -> Response:
        """A municipality's desk: find a resident, the card counter, a move-in."""
        return desk(page, lg_code)

    @router.post("/{lg_code}/search", response_class=HTMLResponse, include_in_schema=False)
    def search(
        page: PageDep,
        lg_code: str,
        name: Annotated[str, Form(max_length=100)] = "",
        kana: Annotated[str, Form(max_length=100)] = "",
        date_of_birth: Annotated[dt.date | None, Form()] = None,
        include_removed: Annotated[bool, Form()] = False,
        csrf_token: Csrf = None,
    ) -> Response:
        """Find residents by name or kana and the date of birth (POST: no name in a URL)."""
        session = page.require_csrf(csrf_token)
        query = {"name": name, "kana": kana, "date_of_birth": date_of_birth}
        try:
            found = backoffice_of(page.request).search(
                session,
                lg_code,
                name=name,
                kana=kana,
                date_of_birth=date_of_birth,
                include_removed=include_removed,
            )
        except InvalidInput as exc:
            return desk(page, lg_code, status=exc.http_status, error=exc, query=query)
        return desk(page, lg_code, results=found, query=query, searched=True)

    # --- a resident's page and its forms -----------------------------------------------------

    def resident_page(
        page: Page,
        lg_code: str,
        handle: str,
        *,
        error: OpenMynaError | None = None,
        done: str | None = None,
        **extra: Any,
    ) -> Response:
        session, member = _member(page, lg_code)
        office = backoffice_of(page.request)
        file = office.resident(session, lg_code, handle)
        certificate = None
        if file.resident.moved_out:
            certificate = office.move_out_of(session, lg_code, handle)
        return page.render(
            "backoffice/resident.html",
            status=error.http_status if error is not None else 200,
            **_context(member),
            file=file,
            certificate=certificate,
            card_files=office.counter_cards.listing(),
            error=error,
            done=done if done in DONE else None,
            today=office.clock.today(),
            **extra,
        )

    @router.get(
        "/{lg_code}/residents/{handle}", response_class=HTMLResponse, include_in_schema=False
    )
    def resident(page: PageDep, lg_code: str, handle: str, done: str | None = None) -> Response:
        """A resident's record, their card, and the counter's steps for them."""
        return resident_page(page, lg_code, handle, done=done)

    def step(
        page: Page,
        lg_code: str,
        handle: str,
        csrf_token: str | None,
        run: Callable[[BackOffice, PortalSession], object],
        done: str,
        form: str,
    ) -> Response:
        session = page.require_csrf(csrf_token)
        office = backoffice_of(page.request)
        try:
            run(office, session)
        except (LoginRequired, CsrfRefused):
            raise
        except OpenMynaError as exc:
            if exc.http_status == 403:
                raise  # not the clerk's to fix: the error page
            return resident_page(page, lg_code, handle, error=exc, open_form=form)
        return page.redirect(f"{PREFIX}/{lg_code}/residents/{handle}?done={done}")

    @router.post("/{lg_code}/residents/{handle}/move-within", include_in_schema=False)
    def move_within(
        page: PageDep,
        lg_code: str,
        handle: str,
        on: Annotated[dt.date, Form()],
        address: Annotated[str, Form(max_length=200)],
        whole_household: Annotated[bool, Form()] = False,
        documents: Documents = None,
        csrf_token: Csrf = None,
    ) -> Response:
        """転居届: a move within the municipality."""
        return step(
            page,
            lg_code,
            handle,
            csrf_token,
            lambda office, session: office.move_within(
                session,
                lg_code,
                handle,
                on=on,
                address=address,
                whole_household=whole_household,
                documents=_documents(documents),
            ),
            "moved_within",
            "move-within",
        )

    @router.post("/{lg_code}/residents/{handle}/move-out", include_in_schema=False)
    def move_out(
        page: PageDep,
        lg_code: str,
        handle: str,
        planned_on: Annotated[dt.date, Form()],
        destination: Annotated[str, Form(max_length=200)],
        destination_lg_code: Annotated[str, Form(max_length=6)] = "",
        documents: Documents = None,
        csrf_token: Csrf = None,
    ) -> Response:
        """転出届: a move-out to another municipality."""
        return step(
            page,
            lg_code,
            handle,
            csrf_token,
            lambda office, session: office.move_out(
                session,
                lg_code,
                handle,
                planned_on=planned_on,
                destination=destination,
                destination_lg_code=destination_lg_code.strip() or None,
                documents=_documents(documents),
            ),
            "moved_out",
            "move-out",
        )

    @router.post("/{lg_code}/residents/{handle}/rename", include_in_schema=False)
    def rename(
        page: PageDep,
        lg_code: str,
        handle: str,
        on: Annotated[dt.date, Form()],
        family_name: Annotated[str, Form(max_length=100)],
        given_name: Annotated[str, Form(max_length=100)],
        family_name_kana: Annotated[str, Form(max_length=100)],
        given_name_kana: Annotated[str, Form(max_length=100)],
        keep_former_surname: Annotated[bool, Form()] = False,
        documents: Documents = None,
        csrf_token: Csrf = None,
    ) -> Response:
        """氏名の変更: a new name."""
        return step(
            page,
            lg_code,
            handle,
            csrf_token,
            lambda office, session: office.change_name(
                session,
                lg_code,
                handle,
                on=on,
                family_name=family_name,
                given_name=given_name,
                family_name_kana=family_name_kana,
                given_name_kana=given_name_kana,
                keep_former_surname=keep_former_surname,
                documents=_documents(documents),
            ),
            "renamed",
            "rename",
        )

    @router.post("/{lg_code}/residents/{handle}/death", include_in_schema=False)
    def death(
        page: PageDep,
        lg_code: str,
        handle: str,
        on: Annotated[dt.date, Form()],
        documents: Documents = None,
        csrf_token: Csrf = None,
    ) -> Response:
        """死亡: the record becomes a removed record (a supervisor's step)."""
        return step(
            page,
            lg_code,
            handle,
            csrf_token,
            lambda office, session: office.record_death(
                session, lg_code, handle, on=on, documents=_documents(documents)
            ),
            "died",
            "death",
        )

    @router.post("/{lg_code}/residents/{handle}/card/apply", include_in_schema=False)
    def card_apply(page: PageDep, lg_code: str, handle: str, csrf_token: Csrf = None) -> Response:
        """交付申請: a card application taken at the counter."""
        return step(
            page,
            lg_code,
            handle,
            csrf_token,
            lambda office, session: office.apply_card(session, lg_code, handle),
            "applied",
            "card-issue",
        )

    @router.post("/{lg_code}/residents/{handle}/card/issue", include_in_schema=False)
    def card_issue(
        page: PageDep,
        lg_code: str,
        handle: str,
        auth_pin: Annotated[str, Form(max_length=4)],
        sign_password: Annotated[str, Form(max_length=16)] = "",
        documents: Documents = None,
        csrf_token: Csrf = None,
    ) -> Response:
        """交付: the card issued on the pending application, handed over."""
        return step(
            page,
            lg_code,
            handle,
            csrf_token,
            lambda office, session: office.issue_card(
                session,
                lg_code,
                handle,
                auth_pin=auth_pin,
                sign_password=sign_password or None,
                documents=_documents(documents),
            ),
            "issued",
            "card-issue",
        )

    @router.post(
        "/{lg_code}/residents/{handle}/card/update",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def card_update(
        page: PageDep,
        lg_code: str,
        handle: str,
        card_file: Annotated[str, Form(max_length=200)],
        holder_pin: Annotated[str, Form(max_length=4)],
        sign_password: Annotated[str, Form(max_length=16)] = "",
        no_sign_cert: Annotated[bool, Form()] = False,
        documents: Documents = None,
        csrf_token: Csrf = None,
    ) -> Response:
        """券面記載事項変更: the card's face and chip after a move or a new name."""
        session = page.require_csrf(csrf_token)
        office = backoffice_of(page.request)
        try:
            done = office.update_card(
                session,
                lg_code,
                handle,
                card_file=card_file,
                holder_pin=holder_pin,
                sign_password=None if no_sign_cert else (sign_password or None),
                documents=_documents(documents),
            )
        except (LoginRequired, CsrfRefused):
            raise
        except OpenMynaError as exc:
            if exc.http_status == 403:
                raise
            return resident_page(page, lg_code, handle, error=exc, open_form="card-update")
        _, member = _member(page, lg_code)
        return page.render(
            "backoffice/updated.html", **_context(member), update=done, handle=handle
        )

    @router.post("/{lg_code}/residents/{handle}/card/pin-reset", include_in_schema=False)
    def card_pin_reset(
        page: PageDep,
        lg_code: str,
        handle: str,
        card_file: Annotated[str, Form(max_length=200)],
        pin: Annotated[str, Form(max_length=8)],
        new_pin: Annotated[str, Form(max_length=16)],
        documents: Documents = None,
        csrf_token: Csrf = None,
    ) -> Response:
        """暗証番号の初期化: a new PIN typed by the holder at the counter."""
        return step(
            page,
            lg_code,
            handle,
            csrf_token,
            lambda office, session: office.reset_pin(
                session,
                lg_code,
                handle,
                card_file=card_file,
                pin=pin,
                new_value=new_pin,
                documents=_documents(documents),
            ),
            "pin_reset",
            "card-pin",
        )

    @router.post("/{lg_code}/residents/{handle}/card/suspend", include_in_schema=False)
    def card_suspend(page: PageDep, lg_code: str, handle: str, csrf_token: Csrf = None) -> Response:
        """一時停止: the card suspended on a loss report."""
        return step(
            page,
            lg_code,
            handle,
            csrf_token,
            lambda office, session: office.suspend_card(session, lg_code, handle),
            "suspended",
            "card-status",
        )

    @router.post("/{lg_code}/residents/{handle}/card/lift", include_in_schema=False)
    def card_lift(
        page: PageDep,
        lg_code: str,
        handle: str,
        documents: Documents = None,
        csrf_token: Csrf = None,
    ) -> Response:
        """一時停止の解除: the card found again."""
        return step(
            page,
            lg_code,
            handle,
            csrf_token,
            lambda office, session: office.lift_suspension(
                session, lg_code, handle, documents=_documents(documents)
            ),
            "lifted",
            "card-status",
        )

    @router.post("/{lg_code}/residents/{handle}/card/return", include_in_schema=False)
    def card_return(
        page: PageDep,
        lg_code: str,
        handle: str,
        documents: Documents = None,
        csrf_token: Csrf = None,
    ) -> Response:
        """返納: the card taken back."""
        return step(
            page,
            lg_code,
            handle,
            csrf_token,
            lambda office, session: office.return_card(
                session, lg_code, handle, documents=_documents(documents)
            ),
            "returned",
            "card-status",
        )

    # --- a move-in (転入) ---------------------------------------------------------------------

    @router.get("/{lg_code}/move-in", response_class=HTMLResponse, include_in_schema=False)
    def move_in_start(page: PageDep, lg_code: str) -> Response:
        """転入: the move-out certificate's municipality and resident-record code."""
        _, member = _member(page, lg_code)
        return page.render("backoffice/move_in.html", **_context(member))

    @router.post(
        "/{lg_code}/move-in/certificate", response_class=HTMLResponse, include_in_schema=False
    )
    def move_in_certificate(
        page: PageDep,
        lg_code: str,
        from_lg_code: Annotated[str, Form(max_length=6)],
        resident_code: Annotated[str, Form(max_length=11)],
        csrf_token: Csrf = None,
    ) -> Response:
        """The origin's move-out certificate, read through its registry."""
        session = page.require_csrf(csrf_token)
        _, member = _member(page, lg_code)
        office = backoffice_of(page.request)
        try:
            found = office.move_in_certificate(
                session, lg_code, from_lg_code=from_lg_code.strip(), resident_code=resident_code
            )
        except OpenMynaError as exc:
            if exc.http_status == 403:
                raise
            return page.render(
                "backoffice/move_in.html",
                status=exc.http_status,
                **_context(member),
                error=exc,
                from_lg_code=from_lg_code,
            )
        return page.render(
            "backoffice/move_in.html", **_context(member), move=found, today=office.clock.today()
        )

    @router.post("/{lg_code}/move-in/{handle}", include_in_schema=False)
    def move_in(
        page: PageDep,
        lg_code: str,
        handle: str,
        on: Annotated[dt.date, Form()],
        address: Annotated[str, Form(max_length=200)],
        documents: Documents = None,
        csrf_token: Csrf = None,
    ) -> Response:
        """転入届: the move-in registered with the origin's move-out."""
        session = page.require_csrf(csrf_token)
        _, member = _member(page, lg_code)
        office = backoffice_of(page.request)
        try:
            moved = office.move_in(
                session, lg_code, handle, on=on, address=address, documents=_documents(documents)
            )
        except OpenMynaError as exc:
            if exc.http_status == 403:
                raise
            return page.render(
                "backoffice/move_in.html",
                status=exc.http_status,
                **_context(member),
                error=exc,
                move=office.move_in_file(session, lg_code, handle),
                today=office.clock.today(),
            )
        return page.redirect(f"{PREFIX}/{lg_code}/residents/{moved.handle}?done=moved_in")

    # --- the card counter ---------------------------------------------------------------------

    @router.get("/{lg_code}/cards", response_class=HTMLResponse, include_in_schema=False)
    def cards(page: PageDep, lg_code: str) -> Response:
        """The card counter: applications waiting for their card."""
        session, member = _member(page, lg_code)
        waiting = backoffice_of(page.request).pending_applications(session, lg_code)
        return page.render("backoffice/cards.html", **_context(member), waiting=waiting)

    # --- the staff register and the log -------------------------------------------------------

    def staff_page(page: Page, lg_code: str, *, status: int = 200, **extra: Any) -> Response:
        session, member = _member(page, lg_code)
        members = backoffice_of(page.request).members(session, lg_code)
        return page.render(
            "backoffice/staff.html",
            status=status,
            **_context(member),
            members=members,
            roles=list(Role),
            grouped=_grouped,
            **extra,
        )

    @router.get("/{lg_code}/staff", response_class=HTMLResponse, include_in_schema=False)
    def staff(page: PageDep, lg_code: str) -> Response:
        """The municipality's staff register (administrators)."""
        return staff_page(page, lg_code)

    def staff_step(
        page: Page, lg_code: str, csrf_token: str | None, run: Callable[[PortalSession], object]
    ) -> Response:
        session = page.require_csrf(csrf_token)
        try:
            run(session)
        except OpenMynaError as exc:
            if exc.http_status == 403:
                raise
            return staff_page(page, lg_code, status=exc.http_status, error=exc)
        return page.redirect(f"{PREFIX}/{lg_code}/staff")

    @router.post("/{lg_code}/staff/grant", include_in_schema=False)
    def staff_grant(
        page: PageDep,
        lg_code: str,
        account_id: Annotated[str, Form(max_length=64)],
        role: Annotated[str, Form(max_length=16)],
        name: Annotated[str, Form(max_length=64)],
        csrf_token: Csrf = None,
    ) -> Response:
        """Give an account a role at the municipality."""
        office = backoffice_of(page.request)
        return staff_step(
            page,
            lg_code,
            csrf_token,
            lambda session: office.grant(
                session, lg_code, account_id=account_id, role=role, name=name
            ),
        )

    @router.post("/{lg_code}/staff/revoke", include_in_schema=False)
    def staff_revoke(
        page: PageDep,
        lg_code: str,
        account_id: Annotated[str, Form(max_length=64)],
        csrf_token: Csrf = None,
    ) -> Response:
        """End an account's role at the municipality."""
        office = backoffice_of(page.request)
        return staff_step(
            page,
            lg_code,
            csrf_token,
            lambda session: office.revoke(session, lg_code, account_id=account_id),
        )

    @router.get("/{lg_code}/log", response_class=HTMLResponse, include_in_schema=False)
    def log(page: PageDep, lg_code: str) -> Response:
        """The staff log: every action of staff at the municipality (administrators)."""
        session, member = _member(page, lg_code)
        entries = backoffice_of(page.request).log(session, lg_code)
        return page.render(
            "backoffice/log.html",
            **_context(member),
            entries=entries,
            masked_code=mask_resident_code,
        )

    # --- a form's address opened with GET (the language switch, a reload): back to its page --

    def back(page: Page, target: str) -> Response:
        page.require_login()
        return page.redirect(target)

    @router.get("/{lg_code}/search", include_in_schema=False)
    def search_again(page: PageDep, lg_code: str) -> Response:
        """The search form (results are not kept: the search was a POST)."""
        return back(page, f"{PREFIX}/{lg_code}")

    @router.get("/{lg_code}/residents/{handle}/{form:path}", include_in_schema=False)
    def resident_again(page: PageDep, lg_code: str, handle: str, form: str) -> Response:
        """The resident's page, after one of its forms."""
        return back(page, f"{PREFIX}/{lg_code}/residents/{handle}")

    @router.get("/{lg_code}/move-in/{form:path}", include_in_schema=False)
    def move_in_again(page: PageDep, lg_code: str, form: str) -> Response:
        """The move-in form, after reading a certificate."""
        return back(page, f"{PREFIX}/{lg_code}/move-in")

    @router.get("/{lg_code}/staff/{form:path}", include_in_schema=False)
    def staff_again(page: PageDep, lg_code: str, form: str) -> Response:
        """The staff register, after one of its forms."""
        return back(page, f"{PREFIX}/{lg_code}/staff")

    return list(router.routes)


def _grouped(account_id: str) -> str:
    """A staff ID as people read it out: ``1a2b 3c4d …`` (32 hex digits in eights)."""
    return " ".join(account_id[i : i + 8] for i in range(0, len(account_id), 8))
