#!/usr/bin/env python3
"""Writes the offline demo feeds in this directory (python3 make_demo_feeds.py).

The stories, outlets and people are fictional and written for syndedup. The script prints the
(file, id, story) rows that tests/demo_grouping.rs keeps in EXPECTED; update both together.
"""

import sys, json, os
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape

PORT = dict(
    key="port",
    title="Dockworkers walk out at Port Calloway, halting container traffic",
    paras=[
        "CALLOWAY, Nov 25 (Meridian) - Several thousand dockworkers walked off the job at Port Calloway on Wednesday, bringing container handling at the country's second-busiest harbour to a near standstill after talks over automation and overtime pay broke down late on Tuesday.",
        "The Harbour and Transport Workers' Union said about 4,200 members had joined the strike, which it described as open-ended. Cranes at the port's three container terminals stood idle by mid-morning, and at least eleven vessels were waiting at anchor outside the breakwater, according to ship-tracking data reviewed by Meridian.",
        "\"We have been patient for fourteen months, and patience has bought us nothing,\" union secretary Dalia Okonkwo-Reyes told reporters outside the north gate. \"Nobody here is against new machines. We are against new machines that arrive with a redundancy letter attached.\"",
        "The Port Calloway Authority, which leases the terminals to two private operators, said it regretted the walkout and urged both sides to return to mediation. An authority spokesman said perishable cargo and fuel shipments would be prioritised through a smaller terminal staffed by supervisors.",
        "At the centre of the dispute is a plan by terminal operator Greyline Logistics to introduce remotely operated stacking cranes at its largest berth by 2028. The company says the project will not lead to compulsory layoffs and that it has offered retraining to every affected worker. The union wants those guarantees written into a binding agreement, together with an overtime rate increase of 9 percent.",
        "\"The offer on the table is fair and it is generous,\" Greyline chief executive Tomas Lindqvist said in a statement. \"We remain ready to talk at any hour, but we will not negotiate under a blockade.\"",
        "Freight forwarders warned that a long stoppage would ripple through supply chains ahead of the year-end retail season. The Calloway Chamber of Commerce estimated that each day of disruption delays goods worth roughly 180 million crowns and said some importers had already begun rerouting cargo to the smaller port of Eastmere, about 300 kilometres up the coast.",
        "Transport Minister Helena Varga said the government was monitoring the situation closely but had no plans to intervene for now. \"This is a dispute between an employer and its workers, and it is best settled at the table,\" she said.",
        "The last major strike at the port, in 2019, lasted nine days and took shipping lines several weeks to clear the resulting backlog.",
    ],
)

BANK = dict(
    key="bank",
    title="Bank of Valdoria raises key rate to 4.25%, signals it may be near peak",
    paras=[
        "LUMEN, Nov 25 (Meridian) - The Bank of Valdoria raised its main policy rate by a quarter of a percentage point to 4.25 percent on Wednesday, its third increase this year, but signalled that borrowing costs may now be close to their peak as inflation shows signs of cooling.",
        "The decision by the seven-member monetary council was not unanimous. Five members voted for the increase, while two, including deputy governor Jürgen Weiß, favoured leaving rates unchanged, according to a statement published after the meeting.",
        "\"Inflation is moving in the right direction, but it is not yet where it needs to be,\" governor Amélie Lefèvre told a news conference in the capital. \"Today's step is meant to make sure that the progress we have seen is not lost. We believe the policy rate is now at, or very near, a sufficiently restrictive level.\"",
        "Consumer prices rose 4.8 percent in October from a year earlier, down from a peak of 7.1 percent in March but still well above the bank's target of 2 percent. Core inflation, which strips out food and energy, eased to 4.3 percent.",
        "Economists polled by Meridian last week had been evenly split between a hike and a hold. The Valdorian crown strengthened 0.4 percent against the euro after the announcement, while yields on two-year government bonds rose six basis points.",
        "The bank trimmed its growth forecast for next year to 1.1 percent from 1.5 percent, citing weaker demand from the country's main export markets and the drag from higher mortgage payments on household spending. It said it expected inflation to return to target in the second half of 2028.",
        "Lefèvre declined to rule out further increases, saying the council would \"look at every piece of data with an open mind,\" but she added that the bar for another move was higher than it had been in the summer.",
        "Business groups reacted cautiously. The Federation of Valdorian Industry, whose chairman François Ménard had lobbied publicly for a pause, said the increase would weigh on investment at a time when order books were already thinning. Mortgage lenders said they would pass on the change to variable-rate customers from January.",
        "The council's next scheduled meeting is on Feb. 3.",
    ],
)

MONSOON = dict(
    key="monsoon",
    title="Tamaran forecasters predict wetter-than-normal northeast monsoon",
    paras=[
        "SERAPUR, Nov 26 (Meridian) - Tamaran's weather agency on Thursday forecast above-normal rainfall during the northeast monsoon season that runs until February, raising hopes for the winter rice crop but prompting officials to warn of flooding in low-lying coastal districts.",
        "The National Meteorological Office said rainfall from December to February was likely to reach 112 percent of the long-period average, with a margin of error of plus or minus 5 percentage points. It put the probability of an above-normal season at 61 percent.",
        "\"The ocean patterns we are watching point clearly towards a wetter season than usual, particularly in the eastern and southern states,\" the office's director general, Priya Raghunathan, said at a briefing in the capital. \"Farmers should plan for it, and so should city administrations.\"",
        "Agriculture accounts for about a fifth of Tamaran's economic output and employs nearly half of its workforce. The winter rice crop, sown in December, depends heavily on the northeast monsoon, which delivers more than 60 percent of annual rainfall in parts of the south.",
        "Last year's season ended 18 percent below average, cutting rice output and forcing the government to restrict exports of some grades for four months. Traders said Thursday's forecast could pave the way for those curbs, which have since been eased, to be lifted entirely.",
        "\"A good monsoon is the cheapest economic stimulus this country can get,\" said Arjun Mehtani, chief economist at Serapur-based brokerage Lotus Capital. \"It lifts rural incomes, cools food prices and gives the central bank more room.\"",
        "The forecast also carries risks. The disaster management authority said it had pre-positioned rescue boats and relief supplies in nine coastal districts, and asked municipalities to clear storm drains before the end of the month. Flash floods during the 2023 season killed more than 40 people and displaced tens of thousands.",
        "The meteorological office said it would issue an updated outlook in the first week of January, along with district-level forecasts.",
    ],
)

RECALL = dict(
    key="recall",
    title="Brightforge recalls 1.3 million smart thermostats over overheating risk",
    paras=[
        "OAKRIDGE, Nov 26 (Meridian) - Home electronics maker Brightforge said on Thursday it was recalling about 1.3 million smart thermostats sold in 14 countries after reports that a faulty power module could overheat and, in rare cases, melt the device's casing.",
        "The recall covers the company's Hearth 3 and Hearth 3 Mini models made between March 2025 and August 2026. Brightforge said it had received 212 reports of overheating, including 19 cases of minor property damage and three reports of minor burns. No serious injuries have been reported.",
        "\"Safety comes before everything else we do, and we are sorry for the worry this causes our customers,\" chief executive Maren Holt said in a statement. \"We identified the component, we have fixed it in current production, and we will replace every affected unit free of charge.\"",
        "Owners can check whether their device is affected by entering its serial number on the company's website or in its app. Brightforge said affected thermostats would receive a software update within days that limits the power drawn by the faulty module until a replacement is installed, and that certified installers would fit new units at no cost.",
        "The company traced the fault to a capacitor supplied by a third-party manufacturer, which it did not name. It said it had stopped using the supplier's parts in September.",
        "Shares in Brightforge fell 6.2 percent in early trading, their biggest one-day drop in more than a year. Analysts at Corvid Securities estimated the recall could cost the company between 90 million and 140 million dollars, depending on how many owners respond.",
        "Consumer safety regulators in several markets said they were working with the company on the recall. The product safety commission urged owners not to remove the devices themselves, noting that the thermostats are wired into household heating systems.",
        "Brightforge sold more than 4 million thermostats last year, making it one of the three largest brands in the fast-growing smart home market.",
    ],
)

FOLLOWUP = dict(
    key="port-day2",
    title="Port Calloway strike enters second day as court rejects operator's bid to end it",
    paras=[
        "CALLOWAY, Nov 26 (Meridian) - A labour court on Thursday rejected a request by terminal operator Greyline Logistics to order striking dockworkers back to work at Port Calloway, as the walkout entered its second day and the queue of ships outside the harbour grew to 23.",
        "Judge Ines Carvalho said the company had failed to show that the strike breached the union's notice obligations, and that the stoppage was \"a lawful exercise of a right the legislature has chosen to protect.\" Greyline said it was studying the ruling and had not decided whether to appeal.",
        "The ruling strengthens the hand of the Harbour and Transport Workers' Union, whose members walked out on Wednesday over plans for automated cranes and a pay claim. Union secretary Dalia Okonkwo-Reyes repeated on Thursday that her members were \"against new machines that arrive with a redundancy letter attached,\" and said the court had confirmed what workers had argued from the start.",
        "Outside the courthouse, several hundred strikers cheered as the decision was read out. Some carried banners reading \"Fourteen months of patience\".",
        "Greyline chief executive Tomas Lindqvist, who on Wednesday said the company would \"not negotiate under a blockade,\" struck a softer tone after the ruling. In a message to employees seen by Meridian, he said he had asked the state mediation service to propose dates for new talks \"as early as this weekend.\"",
        "Shipping lines have started to divert vessels. Two carriers said they would skip Port Calloway on their next Asia rotations and discharge cargo at Eastmere, where port officials said they were extending gate hours to cope with the extra volume.",
        "Retailers are growing anxious. The national retail association said its members had roughly 9,000 containers of seasonal goods either at anchor or stuck on the quays, and asked the government to appoint a special mediator if no talks were scheduled by Monday.",
    ],
)

# Unrelated stories, one outlet each.
UNRELATED = {
    "sprint": dict(
        title="Kowal breaks national indoor 60 metres record in Lumen",
        paras=[
            "LUMEN, Nov 24 (Meridian) - Sprinter Nadia Kowal broke the national indoor 60 metres record on Tuesday, clocking 7.04 seconds at the season-opening meeting in Lumen and taking three hundredths off the mark she set two winters ago.",
            "The 26-year-old, who missed most of last summer with a hamstring injury, said she had not expected to run so fast so early. \"My coach told me to treat this as a training session with spectators,\" she said, laughing. \"I think I ignored him.\"",
            "Kowal will next race in Hallbrook in mid-December before the national championships in February.",
        ],
    ),
    "cycle-lanes": dict(
        title="Council approves protected cycle lanes on Harbour Road",
        paras=[
            "City councillors voted 27 to 12 on Tuesday night to build protected cycle lanes along the full length of Harbour Road, ending a two-year argument over parking spaces, delivery bays and the fate of the avenue's plane trees.",
            "The plan removes 140 parking spaces but keeps every tree, after engineers redrew the lanes to run between the trees and the kerb. Shop owners on the eastern stretch had collected more than 3,000 signatures against an earlier version.",
            "Work is due to start in April and take about eight months. Councillor Rosa Whitcombe, who chairs the transport committee, said loading bays would be added on every side street before the first lane opens.",
        ],
    ),
    "sourdough": dict(
        title="Millbrook Street bakery wins national sourdough prize",
        paras=[
            "A two-oven bakery on Millbrook Street has been named the country's best sourdough producer, beating 340 entries at the annual Baking Guild awards.",
            "Owners Kemi Adeyemi and Lars Brandt opened the shop four years ago in a former bicycle repair workshop. Their winning loaf uses a starter Adeyemi says she has fed every day since 2017, including on her wedding day.",
            "The couple said they would not raise prices, but warned customers that the queue on Saturday mornings was likely to get longer.",
        ],
    ),
    "kayak": dict(
        title="Lifeguards pull two kayakers from rough water off Gull Point",
        paras=[
            "Two kayakers were rescued off Gull Point on Wednesday afternoon after strong offshore winds pushed them nearly two kilometres out to sea, the coast rescue service said.",
            "A lifeguard on the north beach saw the pair struggling and raised the alarm shortly after 3 p.m. An inshore lifeboat reached them within twelve minutes. Both were wearing buoyancy aids and were taken to hospital as a precaution with mild hypothermia.",
            "The rescue service urged paddlers to check wind forecasts and to avoid the point when the wind blows from the land, which can make the sea near the shore look deceptively calm.",
        ],
    ),
    "ereader": dict(
        title="Review: the Lumo X2 e-reader is light, sharp and too expensive",
        paras=[
            "The Lumo X2 is the nicest e-reader we have held this year. It weighs 168 grams, its 7-inch screen is crisp enough to make small print a pleasure, and the warm front light finally stops looking green at low brightness.",
            "Battery life is excellent: after three weeks of half an hour a night, ours still showed 40 percent. Page turns are quick, and the physical buttons are a welcome return.",
            "The problem is the price. At 279 dollars it costs almost twice as much as rivals with similar screens, and the store it is tied to has a thinner catalogue. Wait for a sale.",
        ],
    ),
    "aurora": dict(
        title="Northern lights could be visible across the region this weekend",
        paras=[
            "Skywatchers may get a rare chance to see the northern lights from the region on Saturday night, after a burst of solar activity sent a cloud of charged particles towards Earth, the national space weather service said.",
            "The best views are expected between 10 p.m. and 2 a.m. away from street lights, looking north. Forecasters said clouds were likely to clear from the west during the evening.",
            "Phone cameras often pick up colours that are too faint for the eye, so a long-exposure photo may reveal a glow even when the sky looks dark.",
        ],
    ),
    "choir": dict(
        title="Riverside school choir invited to open winter festival",
        paras=[
            "The choir of Riverside Primary School will open this year's winter festival in Kingsmere Square on Dec. 12, the organisers announced, after the 38 singers won the regional schools competition in October.",
            "Music teacher Owen Pritchard said the children had been rehearsing a programme of carols and two songs they wrote themselves, one about the school's resident tortoise.",
            "The festival runs for ten days and includes a skating rink, a craft market and a lantern parade on the final evening.",
        ],
    ),
    "mornings": dict(
        title="Five small habits that make winter mornings easier",
        paras=[
            "Dark mornings make getting up harder for most of us. Sleep researchers say a few small changes can help more than a stronger alarm.",
            "Keep the same wake-up time at weekends, open the curtains or switch on a bright light as soon as you get up, and get outside for ten minutes before noon. Lay out clothes the night before, and move the phone charger out of the bedroom so the last thing you see is not a screen.",
            "None of these needs equipment or money, and most people notice a difference within two weeks.",
        ],
    ),
    "metro4": dict(
        title="Metro line 4 closed this weekend for track renewal",
        paras=[
            "Metro line 4 will be closed between Central and Parkside from 10 p.m. on Friday until the start of service on Monday while engineers replace 800 metres of track and two sets of points, the transit authority said.",
            "Replacement buses will run every six minutes, calling at stops near each closed station. Passengers heading to the stadium for Sunday's match are advised to use line 2 and walk from Fairview.",
            "It is the third of five weekend closures planned on the line before the end of January.",
        ],
    ),
}

# German-language items for the ISO-8859-1 outlet.
UNRELATED_DE = {
    "markt": dict(
        title="Weihnachtsmarkt in Süderbrück öffnet eine Woche früher",
        paras=[
            "Der Weihnachtsmarkt auf dem Süderbrücker Rathausplatz öffnet in diesem Jahr bereits am Freitag, eine Woche früher als üblich. Das teilte die Stadtverwaltung am Mittwoch mit.",
            "Grund sei die große Nachfrage der Händler, sagte Marktleiterin Bärbel Köhler. Erstmals gibt es eine Eisstockbahn und einen Stand, an dem Kinder Lebkuchen verzieren können. Glühwein wird ausschließlich in Pfandbechern ausgeschenkt.",
            "Der Markt ist täglich von 11 bis 21 Uhr geöffnet, an den Wochenenden bis 22 Uhr.",
        ],
    ),
    "foehn": dict(
        title="Föhnsturm: Straßensperrung am Grätzjoch bis Samstag",
        paras=[
            "Wegen eines heftigen Föhnsturms bleibt die Passstraße über das Grätzjoch voraussichtlich bis Samstag gesperrt. Böen von bis zu 140 Stundenkilometern hatten in der Nacht mehrere Bäume entwurzelt.",
            "Verletzt wurde nach Angaben der Polizei niemand. Der Straßendienst rät Autofahrern, die Umleitung über Oberau zu nehmen, die etwa 25 Minuten länger dauert. Lastwagen über 7,5 Tonnen müssen großräumig ausweichen.",
        ],
    ),
}

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
os.makedirs(OUT, exist_ok=True)
EXPECT = []  # (file, id, group)

W = {"port": PORT, "bank": BANK, "monsoon": MONSOON, "recall": RECALL, "port-day2": FOLLOWUP}
T0 = {
    "port": datetime(2026, 11, 25, 6, 40, tzinfo=timezone.utc),
    "bank": datetime(2026, 11, 25, 13, 5, tzinfo=timezone.utc),
    "monsoon": datetime(2026, 11, 26, 4, 15, tzinfo=timezone.utc),
    "recall": datetime(2026, 11, 26, 10, 30, tzinfo=timezone.utc),
    "port-day2": datetime(2026, 11, 26, 15, 20, tzinfo=timezone.utc),
}

def tz(h, m=0):
    return timezone(timedelta(hours=h, minutes=m))

def rfc822(dt, zone):
    return format_datetime(dt.astimezone(zone))

def rfc3339(dt, zone):
    return dt.astimezone(zone).isoformat()

def html(paras):
    return "\n".join(f"<p>{escape(p)}</p>" for p in paras)

def slug(t):
    import re, unicodedata
    ascii_text = unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60]

def rss(path, title, link, desc, items, encoding="UTF-8", lang="en"):
    out = [f'<?xml version="1.0" encoding="{encoding}"?>',
           '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">',
           '<channel>', f'<title>{escape(title)}</title>', f'<link>{link}</link>',
           f'<description>{escape(desc)}</description>', f'<language>{lang}</language>', '<ttl>15</ttl>']
    for it in items:
        out.append('<item>')
        out.append(f'  <title>{escape(it["title"])}</title>')
        out.append(f'  <link>{it["link"]}</link>')
        perma = "true" if it["guid"] == it["link"] else "false"
        out.append(f'  <guid isPermaLink="{perma}">{it["guid"]}</guid>')
        out.append(f'  <pubDate>{it["date"]}</pubDate>')
        if it.get("creator"):
            out.append(f'  <dc:creator>{escape(it["creator"])}</dc:creator>')
        for c in it.get("cats", []):
            out.append(f'  <category>{escape(c)}</category>')
        out.append(f'  <description>{escape(it["desc"])}</description>')
        if it.get("content"):
            out.append(f'  <content:encoded><![CDATA[{it["content"]}]]></content:encoded>')
        out.append('</item>')
    out += ['</channel>', '</rss>', '']
    data = "\n".join(out).encode("latin-1" if encoding == "ISO-8859-1" else "utf-8")
    open(os.path.join(OUT, path), "wb").write(data)
    for it in items:
        EXPECT.append((path, it["guid"], it["group"]))

# 1. Meridian Wire: the originals (RSS 2.0, content:encoded).
items = []
for k in ["port", "bank", "monsoon", "recall", "port-day2"]:
    s = W[k]
    d = T0[k]
    gid = f"meridian:{d.strftime('%Y%m%d-%H%M')}:{k}"
    items.append(dict(title=s["title"], link=f"https://meridianwire.example/news/{slug(s['title'])}",
                      guid=gid, date=rfc822(d, timezone.utc), creator="Meridian Press Agency",
                      desc=s["paras"][0], content=html(s["paras"]), group=k))
u = UNRELATED["sprint"]
items.append(dict(title=u["title"], link="https://meridianwire.example/sport/kowal-indoor-record",
                  guid="meridian:20261124-1910:sprint", date=rfc822(datetime(2026, 11, 24, 19, 10, tzinfo=timezone.utc), timezone.utc),
                  creator="Meridian Press Agency", desc=u["paras"][0], content=html(u["paras"]), group="sprint"))
items.sort(key=lambda i: i["date"], reverse=True)
rss("wire.xml", "Meridian Wire - Top News", "https://meridianwire.example/", "Top stories from the Meridian Press Agency", items)

# 2. The Daily Ledger: new headlines, byline, syndication trailer (RSS 2.0, HTML in content:encoded).
def ledger_body(s, when):
    byline = f'<p class="byline">Meridian Press Agency | Updated: {when.astimezone(tz(5,30)).strftime("%d %b %Y, %I:%M %p")} IST</p>'
    trailer = "<p><i>(Only the headline and picture of this report may have been reworked by the Daily Ledger staff; the rest of the content is auto-generated from a syndicated feed.)</i></p>"
    return byline + "\n" + html(s["paras"]) + "\n" + trailer

ledger = [
    ("port", "Port Calloway strike: 4,200 dockers down tools over robot cranes", 35),
    ("bank", "Valdoria rate hike: Governor Lefèvre says peak is near as key rate hits 4.25%", 50),
    ("recall", "Brightforge Hearth 3 thermostat recall: is your device affected?", 70),
]
items = []
for k, title, mins in ledger:
    d = T0[k] + timedelta(minutes=mins)
    link = f"https://dailyledger.example/world/{slug(title)}-{d.strftime('%Y%m%d%H%M')}.html"
    items.append(dict(title=title, link=link, guid=link, date=rfc822(d, tz(5, 30)),
                      desc=W[k]["paras"][0][:180] + "...", content=ledger_body(W[k], d), group=k, cats=["Business"]))
for k, when in [("cycle-lanes", datetime(2026, 11, 25, 20, 5, tzinfo=timezone.utc)), ("sourdough", datetime(2026, 11, 26, 8, 45, tzinfo=timezone.utc))]:
    u = UNRELATED[k]
    link = f"https://dailyledger.example/city/{slug(u['title'])}.html"
    items.append(dict(title=u["title"], link=link, guid=link, date=rfc822(when, tz(5, 30)), creator="Neha Sastry",
                      desc=u["paras"][0], content=html(u["paras"]), group=k, cats=["City"]))
items.sort(key=lambda i: i["date"], reverse=True)
rss("ledger.xml", "The Daily Ledger", "https://dailyledger.example/", "News, business and your city", items)

# 3. Coastline Courier: paywall block after the text (RSS 2.0).
PAYWALL = ("<div class=\"paywall\"><p>You've reached your limit of free articles this month.</p>"
           "<p>Subscribe now for unlimited access to local news, puzzles and the digital edition from just $1 a week. Cancel any time.</p>"
           "<p>Already a subscriber? Sign in</p></div>")
items = []
for k, title, mins in [("port", "Strike shuts Port Calloway terminals; ships queue off breakwater", 95),
                       ("monsoon", "Wet winter ahead: forecasters expect a stronger monsoon", 140)]:
    d = T0[k] + timedelta(minutes=mins)
    link = f"https://coastlinecourier.example/{d.strftime('%Y/%m/%d')}/{slug(title)}/"
    items.append(dict(title=title, link=link, guid=link, date=rfc822(d, tz(1)), creator="Courier wire desk",
                      desc=W[k]["paras"][0], content=html(W[k]["paras"]) + "\n" + PAYWALL, group=k))
u = UNRELATED["kayak"]
d = datetime(2026, 11, 25, 16, 30, tzinfo=timezone.utc)
link = f"https://coastlinecourier.example/{d.strftime('%Y/%m/%d')}/{slug(u['title'])}/"
items.append(dict(title=u["title"], link=link, guid=link, date=rfc822(d, tz(1)), creator="Tom Aldridge",
                  desc=u["paras"][0], content=html(u["paras"]) + "\n" + PAYWALL, group="kayak"))
items.sort(key=lambda i: i["date"], reverse=True)
rss("coastline.xml", "Coastline Courier", "https://coastlinecourier.example/", "Your coast, your news", items)

# 4. Quickbyte: description only; the recall copy is cut to about 55% of the text.
def truncated(paras, share):
    words = " ".join(paras).split()
    total = len(words)
    keep, out = int(total * share), []
    n = 0
    for p in paras:
        w = p.split()
        if n + len(w) <= keep:
            out.append(p); n += len(w)
        else:
            out.append(" ".join(w[: keep - n]) + " \u2026")
            break
    return out, keep / total

rec_paras, share = truncated(RECALL["paras"], 0.55)
print(f"quickbyte recall copy keeps {share:.0%} of the words", file=sys.stderr)
items = []
d = T0["recall"] + timedelta(minutes=25)
link = "https://quickbyte.example/gadgets/brightforge-thermostat-recall"
items.append(dict(title="Brightforge pulls 1.3M Hearth thermostats after overheating reports", link=link, guid=link,
                  date=rfc822(d, tz(-5)), desc=html(rec_paras) + f'\n<p><a href="{link}">Read more</a></p>', group="recall"))
d = T0["bank"] + timedelta(minutes=18)
link = "https://quickbyte.example/markets/valdoria-rate-decision"
items.append(dict(title="Valdoria hikes to 4.25%, hints at pause", link=link, guid=link, date=rfc822(d, tz(-5)),
                  desc=html(BANK["paras"]), group="bank"))
u = UNRELATED["ereader"]
d = datetime(2026, 11, 26, 14, 0, tzinfo=timezone.utc)
link = "https://quickbyte.example/reviews/lumo-x2"
items.append(dict(title=u["title"], link=link, guid=link, date=rfc822(d, tz(-5)), creator="Jonah Frey",
                  desc=html(u["paras"]), group="ereader"))
items.sort(key=lambda i: i["date"], reverse=True)
rss("quickbyte.xml", "Quickbyte", "https://quickbyte.example/", "Tech and markets, fast", items)

# 5. Northern Star Online: Atom, HTML content, widgets in the middle of the text.
def with_widgets(paras):
    mid = len(paras) // 2
    return (["By Meridian Press Agency"] + paras[:mid] + ["Story continues below", "Advertisement"] + paras[mid:])

entries = []
for k, title, mins in [("monsoon", "Tamaran braces for heavy monsoon rains as forecasters raise outlook", 55),
                       ("recall", "Smart thermostat maker recalls 1.3 million units over fire fears", 40),
                       ("port", "Port Calloway at a standstill as dockers strike over automation", 180)]:
    d = T0[k] + timedelta(minutes=mins)
    link = f"https://northernstar.example/news/{slug(title)}"
    entries.append(dict(title=title, link=link, id=f"tag:northernstar.example,2026:{slug(title)}",
                        date=d, author="Meridian Press Agency", content=html(with_widgets(W[k]["paras"])), group=k))
for k, when in [("aurora", datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)), ("choir", datetime(2026, 11, 25, 11, 20, tzinfo=timezone.utc))]:
    u = UNRELATED[k]
    link = f"https://northernstar.example/local/{slug(u['title'])}"
    entries.append(dict(title=u["title"], link=link, id=f"tag:northernstar.example,2026:{slug(u['title'])}",
                        date=when, author="Isla Mackay", content=html(u["paras"]), group=k))
entries.sort(key=lambda e: e["date"], reverse=True)
out = ['<?xml version="1.0" encoding="utf-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom">',
       '  <title>Northern Star Online</title>', '  <link href="https://northernstar.example/"/>',
       '  <link rel="self" href="https://northernstar.example/feed.atom"/>',
       '  <id>tag:northernstar.example,2026:feed</id>',
       f'  <updated>{rfc3339(entries[0]["date"], timezone.utc)}</updated>']
for e in entries:
    out += ['  <entry>', f'    <title>{escape(e["title"])}</title>', f'    <link rel="alternate" href="{e["link"]}"/>',
            f'    <id>{e["id"]}</id>', f'    <published>{rfc3339(e["date"], tz(0))}</published>',
            f'    <updated>{rfc3339(e["date"] + timedelta(minutes=7), tz(0))}</updated>',
            f'    <author><name>{escape(e["author"])}</name></author>',
            f'    <content type="html">{escape(e["content"])}</content>', '  </entry>']
    EXPECT.append(("northern.atom", e["id"], e["group"]))
out += ['</feed>', '']
open(os.path.join(OUT, "northern.atom"), "w", encoding="utf-8").write("\n".join(out))

# 6. Pulse Digest: JSON Feed 1.1, carries the follow-up too.
PULSE_TRAILER = "<p><em>This story has not been edited by Pulse Digest staff and is auto-generated from a syndicated feed.</em></p>"
items = []
for k, title, mins in [("bank", "Valdoria's central bank lifts rates again but says the end is in sight", 75),
                       ("monsoon", "Good news for rice farmers: a wetter monsoon is on the way", 210),
                       ("port-day2", "Court sides with striking dockers at Port Calloway", 45)]:
    d = T0[k] + timedelta(minutes=mins)
    url = f"https://pulsedigest.example/p/{slug(title)}"
    items.append(dict(id=f"pulse-{k}-{d.strftime('%Y%m%d%H%M')}", url=url, title=title,
                      content_html=html(W[k]["paras"]) + "\n" + PULSE_TRAILER,
                      summary=W[k]["paras"][0], date_published=rfc3339(d, tz(2)),
                      authors=[{"name": "Meridian Press Agency"}], tags=["wire"], _group=k))
u = UNRELATED["mornings"]
d = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
items.append(dict(id=f"pulse-mornings-{d.strftime('%Y%m%d%H%M')}", url="https://pulsedigest.example/p/winter-mornings",
                  title=u["title"], content_html=html(u["paras"]), date_published=rfc3339(d, tz(2)),
                  authors=[{"name": "Sofia Lind"}], tags=["life"], _group="mornings"))
items.sort(key=lambda i: i["date_published"], reverse=True)
for i in items:
    EXPECT.append(("pulse.json", i["id"], i.pop("_group")))
feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Pulse Digest",
        "home_page_url": "https://pulsedigest.example/", "feed_url": "https://pulsedigest.example/feed.json",
        "language": "en", "items": items}
open(os.path.join(OUT, "pulse.json"), "w", encoding="utf-8").write(json.dumps(feed, indent=2, ensure_ascii=False) + "\n")

# 7. Alpenblick: ISO-8859-1 RSS, German headlines, English wire copy with accented names.
def alpen_body(s):
    return ("<p><i>Englischsprachiger Originaltext der Agentur Meridian.</i></p>\n" + html(s["paras"]) +
            "\n<p>Quelle: Meridian. Alle Rechte vorbehalten.</p>")
items = []
for k, title, mins in [("bank", "Valdoria: Notenbank erhöht Leitzins auf 4,25 Prozent - Gouverneurin Lefèvre sieht Höhepunkt nahe", 65),
                       ("port", "Hafenstreik in Calloway: Containerverkehr steht still", 150)]:
    d = T0[k] + timedelta(minutes=mins)
    link = f"https://alpenblick.example/ausland/{k}-{d.strftime('%Y%m%d')}.html"
    items.append(dict(title=title, link=link, guid=link, date=rfc822(d, tz(1)), creator="Agentur Meridian",
                      desc=alpen_body(W[k]), group=k))
for k, when in [("markt", datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc)), ("foehn", datetime(2026, 11, 25, 5, 50, tzinfo=timezone.utc))]:
    u = UNRELATED_DE[k]
    link = f"https://alpenblick.example/region/{k}-{when.strftime('%Y%m%d')}.html"
    items.append(dict(title=u["title"], link=link, guid=link, date=rfc822(when, tz(1)), creator="Jörg Brändle",
                      desc=html(u["paras"]), group=k))
items.sort(key=lambda i: i["date"], reverse=True)
rss("alpenblick.xml", "Alpenblick - Nachrichten", "https://alpenblick.example/", "Nachrichten aus der Region und der Welt",
    items, encoding="ISO-8859-1", lang="de")

# 8. Metro Evening Post: HTML in description, edits (dateline, last paragraph dropped), credit lines.
def metro_body(paras, drop_last=False):
    ps = list(paras)
    ps[0] = ps[0].replace(" (Meridian)", "")
    if drop_last:
        ps = ps[:-1]
    mid = len(ps) // 2 + 1
    ps = ps[:mid] + ["Advertisement", "Also read: Our guide to the week's biggest business stories"] + ps[mid:]
    return html(ps) + "\n<p>Reporting by Meridian Press Agency; Editing by Ruth Ames</p>"
items = []
for k, title, mins, drop in [("port", "'Patience has bought us nothing': dockers strike at Port Calloway", 240, False),
                             ("recall", "Check your thermostat: 1.3 million Brightforge units recalled", 120, True),
                             ("monsoon", "Forecasters: Tamaran's monsoon to bring 12% more rain than usual", 300, False)]:
    d = T0[k] + timedelta(minutes=mins)
    link = f"https://metroeveningpost.example/news/{d.strftime('%Y%m%d')}/{slug(title)}"
    items.append(dict(title=title, link=link, guid=link, date=rfc822(d, tz(0)), desc=metro_body(W[k]["paras"], drop), group=k))
u = UNRELATED["metro4"]
d = datetime(2026, 11, 26, 17, 0, tzinfo=timezone.utc)
link = f"https://metroeveningpost.example/news/{d.strftime('%Y%m%d')}/{slug(u['title'])}"
items.append(dict(title=u["title"], link=link, guid=link, date=rfc822(d, tz(0)), creator="Dev Patel", desc=html(u["paras"]), group="metro4"))
items.sort(key=lambda i: i["date"], reverse=True)
rss("metro.xml", "Metro Evening Post", "https://metroeveningpost.example/", "The city's evening paper", items)

for f, i, g in EXPECT:
    print(f'    ("{f}", "{i}", "{g}"),')
