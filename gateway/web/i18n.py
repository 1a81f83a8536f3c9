"""The dashboard's words and formats in Japanese and English: one message catalog per language, and how fiscal
years, yen and times are written in each.

Money stays integer yen: an overview's 百万円 / millions of yen is the amount rounded half away from zero to the
nearest million by integer arithmetic, never through a float.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

from chain.times import JST

__all__ = ["LANGS", "Lang", "Words", "negotiate"]

Lang = Literal["ja", "en"]
LANGS: tuple[Lang, ...] = get_args(Lang)
_REIWA_OFFSET = 2018  # 令和1年度 is FY2019

_CATALOGS: Mapping[Lang, Mapping[str, str]] = MappingProxyType(
    {
        "ja": MappingProxyType(
            {
                "site.title": "調達台帳",
                "nav.budget": "予算の概要",
                "nav.procurements": "調達",
                "nav.skip": "本文へ移動",
                "lang.switch": "English",
                "lang.label": "言語",
                "session.signed_in_as": "サインイン中",
                "session.sign_out": "サインアウト",
                "sign_in.title": "サインイン",
                "sign_in.demo": "デモアカウントでサインイン",
                "sign_in.demo_hint": "ローカルの開発チェーン専用です。本番のチェーンでは表示されません。",
                "sign_in.account": "アカウント",
                "sign_in.submit": "サインイン",
                "sign_in.not_dev": "このチェーン (ID {chain_id}) では、デモアカウントでのサインインはできません。"
                "ウォレットでサインインしてください。",
                "budget.title": "{year} 予算の概要",
                "budget.as_of": "{time} 現在",
                "budget.unit": "単位: 百万円",
                "budget.items": "項",
                "budget.lines": "目・目の細分",
                "budget.year": "年度",
                "budget.show": "表示",
                "budget.none": "この年度に表示できる予算はありません。",
                "col.ministry": "府省",
                "col.item": "項",
                "col.line": "目の細分",
                "col.organization": "組織",
                "col.appropriation": "歳出予算額",
                "col.obligated": "支出負担行為額",
                "col.disbursed": "支出済額",
                "col.available": "残額",
                "col.pending": "流用等の申請中",
                "procurements.title": "調達",
                "procurements.none": "表示できる調達はありません。",
                "procurements.count": "{count} 件",
                "col.title": "件名",
                "col.supplier": "契約相手方",
                "col.milestones": "マイルストーン",
                "col.funded": "資金",
                "procurement.milestones": "マイルストーン",
                "procurement.payments": "支払",
                "procurement.no_payments": "支払はまだありません。",
                "procurement.escrow": "エスクロー",
                "procurement.quorum": "合格に必要な評価数",
                "col.number": "番号",
                "col.amount": "金額 (円)",
                "col.due": "期限",
                "col.status": "状態",
                "col.attestations": "評価 (合格/不合格)",
                "col.kind": "種別",
                "col.to": "支払先",
                "col.block": "ブロック",
                "error.title": "エラー",
                "error.back": "予算の概要へ戻る",
                "error.404": "見つかりません",
                "error.403": "権限がありません",
                "error.422": "入力に誤りがあります",
                "error.503": "一時的に利用できません",
                "error.other": "エラーが発生しました",
                "status.Pending": "未提出",
                "status.Submitted": "評価中",
                "status.Rejected": "不合格",
                "status.Approved": "合格",
                "status.Paid": "支払済",
                "status.Disputed": "異議申立中",
                "status.Settled": "裁定済",
                "status.Refunded": "返還済",
                "status.Cancelled": "取消",
                "kind.released": "支払",
                "kind.deferred": "支払保留",
                "kind.refunded": "予算へ返還",
                # ---- actions signed in the browser, and live updates (gateway/web/actions.py, live.py)
                "act.heading": "操作",
                "act.verb.submit-evidence": "成果物を提出する",
                "act.verb.attest": "検査結果を証明する",
                "act.verb.propose-amendment": "変更を提案する",
                "act.verb.approve-amendment": "変更を承認する",
                "act.verb.request-transfer": "流用を申請する",
                "act.verb.approve-transfer": "流用を承認する",
                "act.fields": "内容",
                "act.review": "署名する内容を確認",
                "act.signing": "署名する内容",
                "act.raw": "署名する型付きデータ (EIP-712)",
                "act.what": "操作",
                "act.procurement": "調達",
                "act.contract": "コントラクト",
                "act.chain": "チェーン ID",
                "act.signer": "署名者",
                "act.nonce": "ノンス",
                "act.deadline": "署名の有効期限",
                "act.sign_wallet": "ウォレットで署名して送信",
                "act.sign_demo": "デモアカウントで署名して送信",
                "act.demo_hint": "ローカルの開発チェーン専用です。ゲートウェイがデモアカウントの鍵で署名します。",
                "act.no_wallet": "ウォレット (EIP-1193) が見つかりません。",
                "act.sent": "送信しました。ブロックに取り込まれて台帳に反映されると、開いているページも更新されます。",
                "act.tx": "トランザクション",
                "act.status": "状態",
                "act.back": "戻る",
                "act.check": "状態を確認する",
                "act.why": "理由",
                "act.relay.pending": "送信済み (ブロック待ち)",
                "act.relay.mined": "ブロックに取り込まれました",
                "act.relay.reverted": "コントラクトに拒否されました",
                "act.upload": "成果物をアップロード",
                "act.file": "ファイル",
                "act.upload_submit": "アップロードして確認へ",
                "act.hash_hint": "0x で始まるハッシュ、または文章 (その SHA-256 を署名します)",
                "act.field.milestoneId": "マイルストーン",
                "act.field.documentHash": "成果物 (SHA-256)",
                "act.field.uri": "成果物の URI",
                "act.field.round": "検査回",
                "act.field.pass": "結果",
                "act.field.reportHash": "検査報告書 (ハッシュ)",
                "act.field.kind": "変更の種類",
                "act.field.newAmount": "新しい金額 (円)",
                "act.field.newDueDate": "新しい期限",
                "act.field.rationaleHash": "理由 (ハッシュ)",
                "act.field.amendmentId": "変更番号",
                "act.field.transferId": "流用番号",
                "act.field.request.from": "流用元の予算",
                "act.field.request.to": "流用先の予算",
                "act.field.request.amount": "金額 (円)",
                "act.field.request.rationaleHash": "理由 (ハッシュ)",
                "act.field.requester": "申請者",
                "act.field.requestedAt": "申請日時",
                "act.word.pass": "合格",
                "act.word.fail": "不合格",
                "act.choice.amount": "金額",
                "act.choice.dueDate": "期限",
                "act.choice.cancel": "取消",
                "wallet.sign_in": "ウォレットでサインイン",
                "wallet.hint": "MetaMask などのウォレット (EIP-1193) で署名します。",
                "wallet.wrong_chain": (
                    "ウォレットのチェーン ID は {wallet} ですが、このゲートウェイは {gateway} です。"
                    "ウォレットのネットワークを切り替えてください。"
                ),
                "live.updating": "自動更新中",
            }
        ),
        "en": MappingProxyType(
            {
                "site.title": "Procurement ledger",
                "nav.budget": "Budget overview",
                "nav.procurements": "Procurements",
                "nav.skip": "Skip to main content",
                "lang.switch": "日本語",
                "lang.label": "Language",
                "session.signed_in_as": "Signed in as",
                "session.sign_out": "Sign out",
                "sign_in.title": "Sign in",
                "sign_in.demo": "Sign in as a demo account",
                "sign_in.demo_hint": "Only on the local dev chain; never offered on any other chain.",
                "sign_in.account": "Account",
                "sign_in.submit": "Sign in",
                "sign_in.not_dev": "Demo accounts cannot sign in on this chain (id {chain_id}): sign in with a wallet.",
                "budget.title": "{year} budget overview",
                "budget.as_of": "as of {time}",
                "budget.unit": "In millions of yen",
                "budget.items": "Items",
                "budget.lines": "Sub-item lines",
                "budget.year": "Fiscal year",
                "budget.show": "Show",
                "budget.none": "No budget visible to you in this fiscal year.",
                "col.ministry": "Ministry",
                "col.item": "Item",
                "col.line": "Sub-item",
                "col.organization": "Organization",
                "col.appropriation": "Appropriation",
                "col.obligated": "Obligated",
                "col.disbursed": "Disbursed",
                "col.available": "Available",
                "col.pending": "Pending transfers",
                "procurements.title": "Procurements",
                "procurements.none": "No procurement visible to you.",
                "procurements.count": "{count} in all",
                "col.title": "Title",
                "col.supplier": "Supplier",
                "col.milestones": "Milestones",
                "col.funded": "Funded",
                "procurement.milestones": "Milestones",
                "procurement.payments": "Payments",
                "procurement.no_payments": "No payment yet.",
                "procurement.escrow": "Escrow",
                "procurement.quorum": "Passes needed",
                "col.number": "No.",
                "col.amount": "Amount (yen)",
                "col.due": "Due",
                "col.status": "Status",
                "col.attestations": "Attestations (pass/fail)",
                "col.kind": "Kind",
                "col.to": "Paid to",
                "col.block": "Block",
                "error.title": "Error",
                "error.back": "Back to the budget overview",
                "error.404": "Not found",
                "error.403": "Not permitted",
                "error.422": "Invalid input",
                "error.503": "Temporarily unavailable",
                "error.other": "Something went wrong",
                "status.Pending": "Pending",
                "status.Submitted": "Under evaluation",
                "status.Rejected": "Rejected",
                "status.Approved": "Approved",
                "status.Paid": "Paid",
                "status.Disputed": "Disputed",
                "status.Settled": "Settled",
                "status.Refunded": "Refunded",
                "status.Cancelled": "Cancelled",
                "kind.released": "Paid",
                "kind.deferred": "Deferred",
                "kind.refunded": "Refunded to the budget",
                # ---- actions signed in the browser, and live updates (gateway/web/actions.py, live.py)
                "act.heading": "Actions",
                "act.verb.submit-evidence": "Submit evidence",
                "act.verb.attest": "Attest a milestone",
                "act.verb.propose-amendment": "Propose an amendment",
                "act.verb.approve-amendment": "Approve an amendment",
                "act.verb.request-transfer": "Request a transfer",
                "act.verb.approve-transfer": "Approve a transfer",
                "act.fields": "Details",
                "act.review": "Review what you will sign",
                "act.signing": "What you sign",
                "act.raw": "The typed data you sign (EIP-712)",
                "act.what": "Action",
                "act.procurement": "Procurement",
                "act.contract": "Contract",
                "act.chain": "Chain id",
                "act.signer": "Signer",
                "act.nonce": "Nonce",
                "act.deadline": "Signature valid until",
                "act.sign_wallet": "Sign with your wallet and send",
                "act.sign_demo": "Sign with the demo account and send",
                "act.demo_hint": "Local dev chain only: the gateway signs with the demo account's key.",
                "act.no_wallet": "No wallet (EIP-1193) found in this browser: with one, you sign in and sign here.",
                "act.sent": "Sent. Once it is in a block and mirrored, the pages show it (an open page by itself).",
                "act.tx": "Transaction",
                "act.status": "Status",
                "act.back": "Back",
                "act.check": "Check its status",
                "act.why": "Why",
                "act.relay.pending": "Sent (waiting for a block)",
                "act.relay.mined": "In a block",
                "act.relay.reverted": "Refused by the contract",
                "act.upload": "Upload a document",
                "act.file": "File",
                "act.upload_submit": "Upload and review",
                "act.hash_hint": "A hash starting with 0x, or text (its SHA-256 is signed)",
                "act.field.milestoneId": "Milestone",
                "act.field.documentHash": "Document (SHA-256)",
                "act.field.uri": "Document URI",
                "act.field.round": "Round",
                "act.field.pass": "Result",
                "act.field.reportHash": "Test report (hash)",
                "act.field.kind": "Kind of amendment",
                "act.field.newAmount": "New amount (yen)",
                "act.field.newDueDate": "New due date",
                "act.field.rationaleHash": "Rationale (hash)",
                "act.field.amendmentId": "Amendment",
                "act.field.transferId": "Transfer",
                "act.field.request.from": "From line",
                "act.field.request.to": "To line",
                "act.field.request.amount": "Amount (yen)",
                "act.field.request.rationaleHash": "Rationale (hash)",
                "act.field.requester": "Requested by",
                "act.field.requestedAt": "Requested at",
                "act.word.pass": "Pass",
                "act.word.fail": "Fail",
                "act.choice.amount": "Amount",
                "act.choice.dueDate": "Due date",
                "act.choice.cancel": "Cancellation",
                "wallet.sign_in": "Sign in with a wallet",
                "wallet.hint": "Sign with a wallet such as MetaMask (EIP-1193).",
                "wallet.wrong_chain": (
                    "Your wallet is on chain id {wallet}, this gateway on {gateway}: switch the wallet's network."
                ),
                "live.updating": "Updating live",
            }
        ),
    }
)


def negotiate(cookie: str | None, accept_language: str | None) -> Lang:
    """The language: the cookie's if it names one, else Japanese for a browser that asks for Japanese before
    English, else English."""
    if cookie in LANGS:
        return cookie  # type: ignore[return-value]  # checked just above
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip().lower()
        if tag == "ja" or tag.startswith("ja-"):
            return "ja"
        if tag == "en" or tag.startswith("en-"):
            return "en"
    return "en"


def _grouped(number: int) -> str:
    return f"{number:,}"


class Words:
    """The catalog and formats of one language, as the templates use them."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self._catalog = _CATALOGS[lang]

    def __call__(self, key: str, **values: object) -> str:
        """The message ``key`` with ``values`` filled in (a missing key is a KeyError: a test catches it)."""
        return self._catalog[key].format(**values)

    def has(self, key: str) -> bool:
        """Whether the catalog has ``key``."""
        return key in self._catalog

    def fiscal_year(self, year: int) -> str:
        """令和8年度 / FY2026."""
        if self.lang == "ja":
            reiwa = year - _REIWA_OFFSET
            return f"令和{'元' if reiwa == 1 else reiwa}年度" if reiwa >= 1 else f"{year}年度"
        return f"FY{year}"

    @staticmethod
    def millions(yen: int) -> str:
        """Integer yen as millions, rounded half away from zero, grouped: 12,345."""
        whole, rest = divmod(abs(yen), 1_000_000)
        rounded = whole + (1 if rest >= 500_000 else 0)
        return ("-" if yen < 0 and rounded else "") + _grouped(rounded)

    def yen(self, yen: int) -> str:
        """Exact yen: 360,000,000円 / ¥360,000,000."""
        sign = "-" if yen < 0 else ""
        return f"{sign}{_grouped(abs(yen))}円" if self.lang == "ja" else f"{sign}¥{_grouped(abs(yen))}"

    def time(self, unix: int) -> str:
        """A unix time in JST: 2026年12月6日 23:08 / 6 Dec 2026 23:08 JST."""
        moment = dt.datetime.fromtimestamp(unix, tz=JST)
        if self.lang == "ja":
            return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"
        return f"{moment.day} {moment:%b %Y %H:%M} JST"

    @staticmethod
    def iso(unix: int) -> str:
        """A unix time in JST as ISO 8601 (a ``<time datetime>``)."""
        return dt.datetime.fromtimestamp(unix, tz=JST).isoformat()

    def date(self, unix: int) -> str:
        """A unix time's day in JST: 2027年6月30日 / 30 Jun 2027."""
        moment = dt.datetime.fromtimestamp(unix, tz=JST)
        return f"{moment.year}年{moment.month}月{moment.day}日" if self.lang == "ja" else f"{moment.day} {moment:%b %Y}"
