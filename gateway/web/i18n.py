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

__all__ = ["LANGS", "Lang", "Words", "negotiate", "unix_time"]

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
                # The read pages of the second slice: procurement records, budget lines, search, auditor pages.
                "procurement.created": "作成",
                "procurement.flags": "レッドフラグ ({count} 件)",
                "procurement.trail": "この調達の監査証跡",
                "procurement.late": "遅延",
                "procurement.direct": "本人が直接送信",
                "procurement.evidence": "成果物の提出",
                "procurement.no_evidence": "成果物はまだ提出されていません。",
                "procurement.attestations": "評価",
                "procurement.no_attestations": "評価はまだありません。",
                "procurement.amendments": "契約変更",
                "procurement.no_amendments": "契約変更はありません。",
                "procurement.not_approved": "未承認",
                "procurement.disputes": "異議申立",
                "procurement.no_disputes": "異議申立はありません。",
                "procurement.open_dispute": "審理中",
                "col.met": "完了",
                "col.round": "回",
                "col.document": "文書ハッシュ",
                "col.signed_by": "署名者",
                "col.relayed_by": "中継者",
                "col.time": "日時 (JST)",
                "col.tx": "トランザクション",
                "col.verdict": "判定",
                "col.amendment": "変更番号",
                "col.proposed_by": "提案",
                "col.approved_by": "承認",
                "col.opened_by": "申立人",
                "col.settled_by": "裁定者",
                "col.to_supplier": "契約相手方へ (円)",
                "col.to_ministry": "府省へ (円)",
                "verdict.pass": "合格",
                "verdict.fail": "不合格",
                "amendment.amount": "金額の変更",
                "amendment.due_date": "期限の変更",
                "amendment.cancel": "取消",
                "line.title": "{year} {sub_item}",
                "line.series": "系列番号",
                "line.figures": "予算額と執行 (円)",
                "line.distributed": "配分額",
                "line.transfers_in": "流用等による増",
                "line.transfers_out": "流用等による減",
                "line.expected": "今年度に見込まれる国庫債務負担行為分",
                "line.transfers": "流用等",
                "line.no_transfers": "流用等はありません。",
                "line.transfer": "番号",
                "line.direction": "方向",
                "line.dir.in": "受入",
                "line.dir.out": "払出",
                "line.other": "相手の目の細分",
                "line.requester": "申請者",
                "line.approver": "承認者",
                "line.took": "承認までの時間",
                "line.pending": "承認待ち ({age})",
                "line.procurements": "この目の細分に計上された調達",
                "line.no_procurements": "計上された調達はありません。",
                "line.not_visible": "閲覧権限がありません",
                "line.history": "履歴",
                "line.event": "事項",
                "line.act.initial": "当初予算の成立",
                "line.act.supplementary": "補正予算の成立",
                "line.ev.Distributed": "配分",
                "line.ev.Transferred": "流用等",
                "line.ev.Obligated": "支出負担行為",
                "line.ev.Deobligated": "支出負担行為の減額",
                "line.ev.Disbursed": "支出",
                "line.ev.CarryOverApproved": "繰越の承認",
                "line.ev.LineSettled": "決算",
                "burn.title": "執行率: 支出済額と均等執行の計画",
                "burn.desc": "支出済額 {disbursed}、計画上の現在額 {planned}、歳出予算額 {appropriation}、"
                "現在のペースでの年度末支出見込み {projected}。",
                "burn.legend": "実線: 支出済額 / 破線: 均等執行の計画 / 点線: 現在のペースでの見込み",
                "burn.numbers": "執行率の数値",
                "burn.planned": "計画上の現在額",
                "burn.projected": "年度末の支出見込み",
                "burn.lapse": "不用見込額",
                "budget.chart": "閲覧できるすべての目の細分の執行率",
                "duration.days": "{days}日{hours}時間",
                "duration.hours": "{hours}時間{minutes}分",
                "audit.title": "監査",
                "audit.mirror": "ミラーの検証状況",
                "audit.not_synced": "ミラーはまだこのチェーンを同期していません。",
                "audit.mirrored_block": "ミラー済みのブロック",
                "audit.chain_head": "チェーンの先頭",
                "audit.block_hash": "ブロックハッシュ",
                "audit.digest_tip": "ダイジェスト連鎖の先端",
                "audit.updated": "最終更新",
                "audit.self_check": "チェーンとの照合",
                "audit.never_checked": "まだ照合されていません",
                "audit.check_ok": "ブロック {lo}〜{hi} はチェーンと一致",
                "audit.check_bad": "ブロック {block} でチェーンと不一致",
                "audit.verify_hint": "全件の再生と照合は `procure audit verify` で行います"
                " (このページは最後の自己照合を示します)。",
                "audit.pages": "監査のページ",
                "audit.flags": "レッドフラグ",
                "audit.trails": "調達ごとの監査証跡 (調達一覧から)",
                "audit.my_acts": "自分の操作履歴",
                "audit.downloads": "ダウンロード",
                "audit.ocds": "OCDS リリースパッケージ (JSON, 全調達のすべてのリリースを順に送ります。大きなミラーでは"
                "数百 MB になり得ます: 記録パッケージや CSV は `procure audit export-ocds` で書き出せます)",
                "audit.digests": "ダイジェスト連鎖 (JSON, GET /audit/digests と同じもの)",
                "audit.compare_hint": "他の組織のミラーとの照合: `procure audit compare <相手のゲートウェイの URL>"
                " --db <このミラーのデータベース URL>` が両方のダイジェスト連鎖をブロックごとに比べ、"
                "最初に食い違うブロックを示します。",
                "audit.public_view": "公開版: 非公開項目は除かれます",
                "nav.audit": "監査",
                "flags.title": "レッドフラグ",
                "flags.rule": "ルール",
                "flags.any": "すべて",
                "flags.count": "{count} 件 (ブロック {block} 時点)",
                "flags.trail": "監査証跡 ({escrow}…)",
                "trail.title": "監査証跡: {title}",
                "trail.count": "{count} 件のイベント",
                "trail.csv": "CSV でダウンロード",
                "trail.what": "内容",
                "trail.chain_hash": "連鎖ハッシュ",
                "trail.by_signature": "署名による",
                "actor.title": "アカウントの操作履歴",
                "actor.none": "このアカウントの操作は記録されていません。",
                "search.label": "検索",
                "search.hint": "件名・契約相手方・府省の語句、または OCID かエスクローアドレスの全体",
                "search.status": "状態",
                "search.any": "すべて",
                "search.submit": "検索",
                "search.none": "条件に合う調達はありません。",
                "search.clear": "条件をクリア",
                "search.open": "実施中",
                "search.completed": "完了",
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
                # The read pages of the second slice: procurement records, budget lines, search, auditor pages.
                "procurement.created": "Created",
                "procurement.flags": "Red flags ({count})",
                "procurement.trail": "This procurement's audit trail",
                "procurement.late": "late",
                "procurement.direct": "sent by the signer",
                "procurement.evidence": "Evidence submitted",
                "procurement.no_evidence": "No evidence submitted yet.",
                "procurement.attestations": "Attestations",
                "procurement.no_attestations": "No attestation yet.",
                "procurement.amendments": "Amendments",
                "procurement.no_amendments": "No amendment.",
                "procurement.not_approved": "not approved",
                "procurement.disputes": "Disputes",
                "procurement.no_disputes": "No dispute.",
                "procurement.open_dispute": "open",
                "col.met": "Met",
                "col.round": "Round",
                "col.document": "Document hash",
                "col.signed_by": "Signed by",
                "col.relayed_by": "Relayed by",
                "col.time": "Time (JST)",
                "col.tx": "Transaction",
                "col.verdict": "Verdict",
                "col.amendment": "Amendment",
                "col.proposed_by": "Proposed",
                "col.approved_by": "Approved",
                "col.opened_by": "Opened by",
                "col.settled_by": "Settled by",
                "col.to_supplier": "To the supplier (yen)",
                "col.to_ministry": "To the ministry (yen)",
                "verdict.pass": "pass",
                "verdict.fail": "fail",
                "amendment.amount": "amount",
                "amendment.due_date": "due date",
                "amendment.cancel": "cancel",
                "line.title": "{year} {sub_item}",
                "line.series": "Series",
                "line.figures": "Appropriation and spending (yen)",
                "line.distributed": "Distributed",
                "line.transfers_in": "Transfers in",
                "line.transfers_out": "Transfers out",
                "line.expected": "Multi-year obligations still expected this year",
                "line.transfers": "Transfers",
                "line.no_transfers": "No transfer.",
                "line.transfer": "No.",
                "line.direction": "Direction",
                "line.dir.in": "in",
                "line.dir.out": "out",
                "line.other": "Other line",
                "line.requester": "Requested by",
                "line.approver": "Approved by",
                "line.took": "Time to approve",
                "line.pending": "pending ({age})",
                "line.procurements": "Procurements charged to this line",
                "line.no_procurements": "No procurement charged to this line.",
                "line.not_visible": "not visible to you",
                "line.history": "History",
                "line.event": "Event",
                "line.act.initial": "Initial budget enacted",
                "line.act.supplementary": "Supplementary budget enacted",
                "line.ev.Distributed": "Distributed",
                "line.ev.Transferred": "Transferred",
                "line.ev.Obligated": "Obligated",
                "line.ev.Deobligated": "Deobligated",
                "line.ev.Disbursed": "Disbursed",
                "line.ev.CarryOverApproved": "Carry-over approved",
                "line.ev.LineSettled": "Settled",
                "burn.title": "Burn rate: disbursed against the straight-line plan",
                "burn.desc": "Disbursed {disbursed}; planned to date {planned}; appropriation {appropriation}; "
                "at this pace, {projected} by the year's end.",
                "burn.legend": "Solid: disbursed / dashed: straight-line plan / dotted: at this pace",
                "burn.numbers": "Burn rate in numbers",
                "burn.planned": "Planned to date",
                "burn.projected": "Disbursed by the year's end at this pace",
                "burn.lapse": "Projected lapse",
                "budget.chart": "Burn rate of every line visible to you",
                "duration.days": "{days} d {hours} h",
                "duration.hours": "{hours} h {minutes} min",
                "audit.title": "Audit",
                "audit.mirror": "The mirror's verify status",
                "audit.not_synced": "The mirror has not synced this chain yet.",
                "audit.mirrored_block": "Mirrored block",
                "audit.chain_head": "chain head",
                "audit.block_hash": "Block hash",
                "audit.digest_tip": "Digest chain tip",
                "audit.updated": "Last updated",
                "audit.self_check": "Checked against the chain",
                "audit.never_checked": "not checked yet",
                "audit.check_ok": "blocks {lo} to {hi} match the chain",
                "audit.check_bad": "differs from the chain at block {block}",
                "audit.verify_hint": "A full replay and comparison is `procure audit verify`; this page shows the"
                " mirror's last self-check.",
                "audit.pages": "Audit pages",
                "audit.flags": "Red flags",
                "audit.trails": "A procurement's trail (from the procurements list)",
                "audit.my_acts": "My own acts",
                "audit.downloads": "Downloads",
                "audit.ocds": "OCDS release package (JSON: every procurement's releases, streamed in order; a large"
                " mirror's runs to hundreds of MB: `procure audit export-ocds` writes the record package or CSV)",
                "audit.digests": "The digest chain (JSON, as GET /audit/digests gives it)",
                "audit.compare_hint": "To compare with other organizations' mirrors: `procure audit compare <their"
                " gateway's URL> --db <this mirror's database URL>` compares the digest chains block by block and"
                " names the first block where they differ.",
                "audit.public_view": "public view: classified fields withheld",
                "nav.audit": "Audit",
                "flags.title": "Red flags",
                "flags.rule": "Rule",
                "flags.any": "any",
                "flags.count": "{count} in all (as of block {block})",
                "flags.trail": "trail ({escrow}…)",
                "trail.title": "Audit trail: {title}",
                "trail.count": "{count} events",
                "trail.csv": "Download as CSV",
                "trail.what": "What",
                "trail.chain_hash": "Chain hash",
                "trail.by_signature": "by signature",
                "actor.title": "Acts of account",
                "actor.none": "No act of this account is recorded.",
                "search.label": "Search",
                "search.hint": "words of a title, supplier or ministry; or a whole ocid or escrow address",
                "search.status": "Status",
                "search.any": "any",
                "search.submit": "Search",
                "search.none": "No procurement matches.",
                "search.clear": "Clear",
                "search.open": "open",
                "search.completed": "completed",
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


def unix_time(moment: int | str) -> int:
    """A unix time, given as one or as the API's ISO 8601 block time (``gateway.schemas.common.BlockTime``)."""
    if isinstance(moment, str):
        return int(dt.datetime.fromisoformat(moment).timestamp())
    return moment


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

    def time(self, unix: int | str) -> str:
        """A unix time (or an API's ISO 8601 block time) in JST: 2026年12月6日 23:08 / 6 Dec 2026 23:08 JST."""
        moment = dt.datetime.fromtimestamp(unix_time(unix), tz=JST)
        if self.lang == "ja":
            return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"
        return f"{moment.day} {moment:%b %Y %H:%M} JST"

    @staticmethod
    def iso(unix: int | str) -> str:
        """A unix time (or an ISO 8601 one) in JST as ISO 8601 (a ``<time datetime>``)."""
        return dt.datetime.fromtimestamp(unix_time(unix), tz=JST).isoformat()

    def duration(self, seconds: int) -> str:
        """A length of time: 2日3時間 / 2 d 3 h (under a day: hours and minutes)."""
        days, rest = divmod(max(seconds, 0), 86_400)
        if days:
            return self("duration.days", days=days, hours=rest // 3_600)
        return self("duration.hours", hours=rest // 3_600, minutes=rest % 3_600 // 60)

    def date(self, unix: int | str) -> str:
        """A unix time's (or an ISO 8601 time's) day in JST: 2027年6月30日 / 30 Jun 2027."""
        moment = dt.datetime.fromtimestamp(unix_time(unix), tz=JST)
        return f"{moment.year}年{moment.month}月{moment.day}日" if self.lang == "ja" else f"{moment.day} {moment:%b %Y}"
