#!/usr/bin/env python3
"""Knowledge-base benchmark: index 10,000 procedure documents (~200 MB, half English and
half Chinese) with the release binary, index them again unchanged, and time `clerk kb
search` as a whole process.

The corpus is generated from a fixed seed (Markdown, HTML, text, CSV tables, a few PDFs and
DOCX files when reportlab and python-docx are installed): invented procedures of an
invented company, written from sentence patterns over a large vocabulary, so that words
are shared between documents the way real procedures share them. It is made once and kept
(`--corpus`, default /tmp/clerk-kb-bench/corpus; delete it to make it again).

    cargo build --release
    python3 benches/kb.py [--docs 10000] [--clerk target/release/clerk]

Prints the index time and peak memory (the process's VmHWM, from wait4), the unchanged
re-index time, the median search time per question, the index's size, and the corpus.
Record them in docs/performance.md with the machine and the command.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time

SEED = 14

EN_ROLES = ["employee", "manager", "department head", "vice president", "contractor", "intern",
            "team lead", "finance officer", "HR partner", "IT administrator", "buyer",
            "project owner", "site manager", "security officer", "travel coordinator"]
EN_TOPICS = {
    "travel": ["flight", "hotel", "train ticket", "taxi", "per diem", "travel portal", "booking",
               "itinerary", "visa", "travel insurance", "mileage", "rental car", "lounge access"],
    "expenses": ["expense claim", "receipt", "invoice", "reimbursement", "corporate card",
                 "cash advance", "meal allowance", "client entertainment", "currency conversion",
                 "cost centre", "payroll", "VAT invoice", "petty cash"],
    "leave": ["annual leave", "sick leave", "parental leave", "unpaid leave", "public holiday",
              "compassionate leave", "leave request", "carry-over", "doctor's note",
              "overtime compensation", "time off in lieu", "sabbatical"],
    "security": ["password", "two-factor authentication", "VPN", "laptop encryption",
                 "phishing email", "badge", "visitor", "USB drive", "security incident",
                 "access request", "data classification", "screen lock", "shared drive"],
    "purchasing": ["purchase order", "supplier", "quotation", "contract", "tender",
                   "goods receipt", "framework agreement", "budget owner", "payment term",
                   "vendor onboarding", "catalogue", "three quotes", "single source"],
    "onboarding": ["first day", "laptop", "induction", "buddy", "probation period",
                   "employee handbook", "training course", "ID card", "desk booking",
                   "welcome lunch", "org chart", "mandatory training"],
    "facilities": ["meeting room", "parking", "canteen", "fire drill", "first aid",
                   "cleaning", "office move", "lost property", "bicycle storage",
                   "air conditioning", "printer", "mail room"],
}
EN_VERBS = ["submit", "approve", "review", "record", "book", "cancel", "report", "request",
            "attach", "confirm", "escalate", "archive", "renew", "check", "sign", "update"]
EN_SYSTEMS = ["Atlas", "Nimbus", "Ledger", "Compass", "Harbor", "Beacon", "Summit", "Orbit",
              "Keystone", "Pioneer"]
EN_CITIES = ["Shanghai", "Beijing", "Shenzhen", "Guangzhou", "Chengdu", "Hangzhou", "London",
             "Paris", "Singapore", "Tokyo", "New York", "Frankfurt", "Sydney", "Dubai"]
EN_UNITS = ["days", "working days", "weeks", "months", "hours"]
EN_PATTERNS = [
    "The {role} must {verb} the {a} in {system} within {n} {unit} of the {b}.",
    "A {a} above CNY {money} needs the written approval of the {role} before the {b}.",
    "If the {a} cannot be {verb}ed in time, the {role} should contact the {role2} and record the reason in {system}.",
    "For trips to {city}, the {a} is limited to {money} per night, taxes included, and the {b} is booked through {system}.",
    "Every {a} is kept for {n} years; a missing {b} is reported to the {role} on the same day.",
    "The {role} may {verb} a {a} on behalf of a colleague only when the {b} has been confirmed in writing.",
    "Requests for {a} are answered within {n} {unit}; urgent cases go to the {role} directly.",
    "Do not {verb} a {a} by email: use the {b} form in {system}, which keeps the history of every change.",
    "After the {b}, the {role} checks the {a} and either approves it or sends it back with a comment.",
    "Exceptions to this rule are rare and need the agreement of both the {role} and the {role2}.",
]
EN_TITLES = ["policy", "procedure", "guideline", "standard", "handbook", "checklist", "rules"]

ZH_ROLES = ["员工", "直属经理", "部门负责人", "副总裁", "外包人员", "实习生", "团队负责人",
            "财务专员", "人事伙伴", "IT管理员", "采购员", "项目负责人", "行政主管", "安全专员"]
ZH_TOPICS = {
    "差旅": ["机票", "酒店", "火车票", "出租车", "出差补贴", "差旅平台", "行程单", "签证",
           "住宿标准", "交通费", "租车", "差旅申请"],
    "报销": ["报销申请", "发票", "收据", "报销单", "公司信用卡", "备用金", "餐费补贴",
           "业务招待费", "成本中心", "增值税专用发票", "付款", "借款"],
    "休假": ["年假", "病假", "产假", "陪产假", "婚假", "事假", "法定节假日", "调休",
           "请假申请", "医院证明", "加班补偿", "丧假"],
    "信息安全": ["密码", "双因素认证", "VPN", "电脑加密", "钓鱼邮件", "门禁卡", "访客",
             "U盘", "安全事件", "权限申请", "数据分级", "屏幕锁定", "共享盘"],
    "采购": ["采购订单", "供应商", "报价单", "合同", "招标", "收货单", "框架协议",
           "预算负责人", "付款条件", "供应商准入", "三家比价", "单一来源"],
    "入职": ["入职第一天", "笔记本电脑", "入职培训", "导师", "试用期", "员工手册",
           "培训课程", "工牌", "工位预订", "组织架构", "必修课程"],
    "行政": ["会议室", "停车位", "食堂", "消防演练", "急救箱", "保洁", "办公室搬迁",
           "失物招领", "自行车停放", "空调", "打印机", "收发室"],
}
ZH_VERBS = ["提交", "审批", "审核", "登记", "预订", "取消", "报告", "申请", "上传", "确认",
            "上报", "归档", "续签", "核对", "签署", "更新"]
ZH_SYSTEMS = ["财务系统", "人事系统", "OA系统", "采购平台", "差旅平台", "服务台", "门户网站"]
ZH_CITIES = ["上海", "北京", "深圳", "广州", "成都", "杭州", "伦敦", "巴黎", "新加坡", "东京",
             "纽约", "法兰克福"]
ZH_PATTERNS = [
    "{role}应在{b}后{n}个工作日内通过{system}{verb}{a}。",
    "金额超过{money}元的{a}须经{role}书面批准后方可{verb}。",
    "如{a}无法按时{verb}，{role}应联系{role2}并在{system}中说明原因。",
    "前往{city}出差时，{a}每晚不超过{money}元（含税），{b}须通过{system}办理。",
    "所有{a}保存{n}年；如发现{b}缺失，应当天报告{role}。",
    "{role}仅在{b}已书面确认的情况下，方可代同事{verb}{a}。",
    "关于{a}的申请将在{n}个工作日内答复，紧急情况请直接联系{role}。",
    "请勿通过邮件{verb}{a}，请使用{system}中的{b}表单，系统会保留每次修改的记录。",
    "{b}完成后，{role}核对{a}，予以批准或退回并注明意见。",
    "本规定的例外情况须同时获得{role}和{role2}的同意。",
]
ZH_TITLES = ["管理制度", "操作流程", "实施细则", "管理办法", "工作指引", "规定"]


def en_sentence(rng, topic):
    words = EN_TOPICS[topic]
    return rng.choice(EN_PATTERNS).format(
        role=rng.choice(EN_ROLES), role2=rng.choice(EN_ROLES), verb=rng.choice(EN_VERBS),
        a=rng.choice(words), b=rng.choice(words), system=rng.choice(EN_SYSTEMS),
        n=rng.randint(2, 30), unit=rng.choice(EN_UNITS), money=rng.choice([500, 800, 900, 2000, 5000, 10000, 50000]),
        city=rng.choice(EN_CITIES))


def zh_sentence(rng, topic):
    words = ZH_TOPICS[topic]
    return rng.choice(ZH_PATTERNS).format(
        role=rng.choice(ZH_ROLES), role2=rng.choice(ZH_ROLES), verb=rng.choice(ZH_VERBS),
        a=rng.choice(words), b=rng.choice(words), system=rng.choice(ZH_SYSTEMS),
        n=rng.randint(2, 30), money=rng.choice([500, 800, 900, 2000, 5000, 10000, 50000]),
        city=rng.choice(ZH_CITIES))


def sections(rng, zh, size):
    """A document as (title, [(level, heading, [paragraphs])]) of about `size` bytes."""
    topic = rng.choice(list(ZH_TOPICS if zh else EN_TOPICS))
    words = (ZH_TOPICS if zh else EN_TOPICS)[topic]
    title = (topic + rng.choice(ZH_TITLES)) if zh else f"{topic.capitalize()} {rng.choice(EN_TITLES)}"
    out, total = [], 0
    while total < size:
        level = rng.choice([2, 2, 3])
        head = rng.choice(words)
        heading = (head + rng.choice(["", "要求", "流程", "标准", "说明"])) if zh else head.capitalize()
        paras = []
        for _ in range(rng.randint(1, 4)):
            sents = [zh_sentence(rng, topic) if zh else en_sentence(rng, topic)
                     for _ in range(rng.randint(3, 8))]
            p = ("" if zh else " ").join(sents)
            paras.append(p)
            total += len(p.encode())
        out.append((level, heading, paras))
    return topic, title, out


def markdown(title, secs):
    parts = [f"# {title}\n"]
    for level, h, paras in secs:
        parts.append(f"{'#' * level} {h}\n")
        parts.extend(p + "\n" for p in paras)
    return "\n".join(parts)


def html(title, secs):
    parts = [f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"]
    for level, h, paras in secs:
        parts.append(f"<h{level}>{h}</h{level}>")
        parts.extend(f"<p>{p}</p>" for p in paras)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def csv_table(rng, zh, size):
    head = "城市,职级,住宿标准,餐补,交通,审批人\n" if zh else "City,Grade,Hotel limit,Meals,Transport,Approver\n"
    rows, total = [head], len(head)
    cities, roles = (ZH_CITIES, ZH_ROLES) if zh else (EN_CITIES, EN_ROLES)
    while total < size:
        r = f"{rng.choice(cities)},{rng.randint(1, 12)},{rng.randint(3, 20) * 50},{rng.randint(5, 30) * 10},{rng.randint(1, 40) * 10},{rng.choice(roles)}\n"
        rows.append(r)
        total += len(r.encode())
    return "".join(rows)


def generate(root, docs, seed):
    rng = random.Random(seed)
    os.makedirs(root, exist_ok=True)
    have_pdf = have_docx = True
    try:
        from reportlab.pdfgen import canvas  # noqa: F401
    except ImportError:
        have_pdf = False
    try:
        import docx  # noqa: F401
    except ImportError:
        have_docx = False
    total = 0
    for i in range(docs):
        zh = i % 2 == 1
        folder = os.path.join(root, f"dept{i % 40:02d}", f"area{(i // 40) % 10}")
        os.makedirs(folder, exist_ok=True)
        size = int(rng.lognormvariate(9.68, 0.6))  # median ~16 KB, mean ~20 KB
        size = max(2_000, min(size, 150_000))
        kind = rng.random()
        topic, title, secs = sections(rng, zh, size)
        name = f"{i:05d}-{topic}".replace(" ", "-")
        if i % 500 == 7 and have_pdf:
            path = os.path.join(folder, name + ".pdf")
            write_pdf(path, title, secs[:6], zh)
        elif i % 500 == 9 and have_docx:
            path = os.path.join(folder, name + ".docx")
            write_docx(path, title, secs)
        elif kind < 0.45:
            path = os.path.join(folder, name + ".md")
            open(path, "w", encoding="utf-8").write(markdown(title, secs))
        elif kind < 0.80:
            path = os.path.join(folder, name + ".html")
            open(path, "w", encoding="utf-8").write(html(title, secs))
        elif kind < 0.92:
            path = os.path.join(folder, name + ".txt")
            open(path, "w", encoding="utf-8").write(markdown(title, secs).replace("#", ""))
        else:
            path = os.path.join(folder, name + ".csv")
            open(path, "w", encoding="utf-8").write(csv_table(rng, zh, size))
        total += os.path.getsize(path)
    return total


def write_pdf(path, title, secs, zh):
    from reportlab.pdfgen import canvas
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    font = "Helvetica"
    if zh:
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
        font = "STSong-Light"
    c = canvas.Canvas(path)
    for level, h, paras in [(1, title, [])] + secs:
        c.setFont(font, 11)
        y = 800
        c.drawString(50, y, h)
        for p in paras:
            step = 40 if zh else 90
            for k in range(0, len(p), step):
                y -= 14
                if y < 50:
                    c.showPage()
                    c.setFont(font, 11)
                    y = 800
                c.drawString(50, y, p[k:k + step])
        c.showPage()
    c.save()


def write_docx(path, title, secs):
    import docx
    d = docx.Document()
    d.add_heading(title, 1)
    for level, h, paras in secs:
        d.add_heading(h, level)
        for p in paras:
            d.add_paragraph(p)
    d.save(path)


def run_measured(clerk, env, args):
    """Run clerk and measure its peak memory through wait4."""
    start = time.perf_counter()
    p = subprocess.Popen([clerk] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Read the pipes on the side so the child never blocks on them.
    bufs = {}
    def drain(name, f):
        bufs[name] = f.read()
    ts = [threading.Thread(target=drain, args=(n, f)) for n, f in (("out", p.stdout), ("err", p.stderr))]
    for t in ts:
        t.start()
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - start
    for t in ts:
        t.join()
    if status != 0:
        sys.exit(f"clerk {' '.join(args)} failed ({status}): {bufs.get('err', b'').decode()}")
    return elapsed, usage.ru_maxrss / 1024, bufs["out"].decode(), bufs["err"].decode()


QUESTIONS = [
    "What is the hotel limit in Shanghai?",
    "How many days of annual leave can be carried over?",
    "How do I reset my password with two-factor authentication?",
    "Who approves a purchase order above CNY 50000?",
    "出差去上海住宿标准是多少？",
    "年假怎么申请，需要谁审批？",
    "忘记密码怎么办",
    "采购订单超过五万元需要谁批准？",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--clerk", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "clerk"))
    ap.add_argument("--corpus", default="/tmp/clerk-kb-bench/corpus")
    ap.add_argument("--runs", type=int, default=11, help="runs of each search")
    a = ap.parse_args()
    clerk = os.path.abspath(a.clerk)
    corpus = f"{a.corpus}-{a.docs}-{SEED}"
    if not os.path.exists(os.path.join(corpus, ".done")):
        shutil.rmtree(corpus, ignore_errors=True)
        t = time.perf_counter()
        size = generate(corpus, a.docs, SEED)
        open(os.path.join(corpus, ".done"), "w").write(str(size))
        print(f"corpus: generated {a.docs:,} documents, {size / 1e6:.1f} MB in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    size = int(open(os.path.join(corpus, ".done")).read())
    home = os.path.join(os.path.dirname(a.corpus), "home")
    shutil.rmtree(home, ignore_errors=True)
    os.makedirs(home)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home,
           "XDG_CONFIG_HOME": os.path.join(home, "config"), "XDG_DATA_HOME": os.path.join(home, "data"),
           "XDG_STATE_HOME": os.path.join(home, "state")}
    t, rss, out, err = run_measured(clerk, env, ["kb", "add", "bench", corpus])
    print(f"index {a.docs:,} documents ({size / 1e6:.1f} MB): {t:.1f} s, peak memory {rss:.0f} MB")
    print(f"  {out.strip()}")
    skipped = [l for l in err.splitlines() if l.startswith("skipped")]
    if skipped:
        print(f"  {len(skipped)} skipped, e.g. {skipped[0][:150]}")
    t, rss, out, _ = run_measured(clerk, env, ["kb", "index", "bench"])
    print(f"re-index, nothing changed: {t:.2f} s, peak memory {rss:.0f} MB")
    print(f"  {out.strip()}")
    idx = os.path.join(home, "data", "clerk", "knowledge.sqlite3")
    print(f"index file: {os.path.getsize(idx) / 1e6:.0f} MB")
    all_times = []
    for q in QUESTIONS:
        times = []
        for _ in range(a.runs):
            t, _, out, _ = run_measured(clerk, env, ["kb", "search", "--json", "-k", "5", q])
            times.append(t * 1000)
        all_times.extend(times)
        r = json.loads(out)
        top = r["passages"][0]["path"] if r["passages"] else "-"
        print(f"search {q!r}: median {statistics.median(times):.0f} ms (min {min(times):.0f}, max {max(times):.0f}); found={r['found']}, top {top}")
    print(f"search, all questions: median {statistics.median(all_times):.0f} ms")


if __name__ == "__main__":
    main()
