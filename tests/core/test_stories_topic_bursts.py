"""One topic's different events within minutes of each other (round seven's set,
tests/data/stories/dev7.jsonl): the index's lower bar for close articles must not let the
topic's own words join them. Headlines in the manner of dev7 (other events, written for
these tests).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.stories import StoryFeatures, StoryIndex, conflicting, story_features
from tests.core.storychecks import assert_apart, assert_one_story, index_holding

NOW = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)


def test_a_start_up_is_a_company_not_a_beginning() -> None:
    # "start" is one of begin's words: split at its hyphen, every start-up's news began
    # something, and shared "begin" with any launch or opening.
    for headline in (
        "Battery start-up Ionix raises $40 million",
        "Startup Ionix raises $40 million for battery plant",
        "Ionix, a start-up, wins battery contract",
    ):
        title = story_features(headline).title
        assert "startup" in title and "begin" not in title, headline
    # The verb keeps its meaning.
    assert "begin" in story_features("Ohio battery plant starts up").title
    assert "begin" in story_features("Ohio battery plant starts production").title


def test_a_start_ups_funding_does_not_join_a_plant_opening_minutes_old() -> None:
    # Three shared headline words (rare earth, magnet), and "start-up" no longer makes a
    # fourth out of the other lead's "began".
    index = index_holding(
        "s-plant",
        "Vulcan Elements opens rare earth magnet plant in North Carolina",
        "Vulcan Elements began commercial production of samarium cobalt magnets at its"
        " Benson, North Carolina, site on Monday.",
        NOW,
    )
    funding = story_features(
        "Magnet start-up Arnold raises $50 million to challenge rare earth supply",
        "Arnold, which makes ferrite magnets without rare earths, said investors backed the round.",
    )
    assert index.find(funding, NOW + timedelta(minutes=10)) is None


def test_the_opening_under_other_words_still_joins() -> None:
    assert_one_story(
        "Vulcan Elements opens rare earth magnet plant in North Carolina",
        "Vulcan Elements starts up North Carolina magnet plant",
        "Vulcan Elements starts magnet production at North Carolina plant",
        now=NOW,
        step=timedelta(minutes=15),
    )


# Round eight (tests/data/stories/dev8.jsonl): one frame, filled by another name.


def test_each_companys_shares_are_a_market_move_of_their_own() -> None:
    # Five shared headline words (shares, fall, China, export, ban): only the company
    # tells them apart, and neither article names the other's.
    assert_apart(
        "Intel shares fall on China chip export ban",
        "Micron shares fall as China export ban widens",
        "Intel's stock fell 5% in early trading after the rule.",
        "Micron Technology dropped 3% as investors weighed the hit to memory sales.",
    )
    assert story_features("Micron's stock slides on China ban").fillers == {"@micron"}
    # A sector opening the headline fills it too (two sectors' moves are two stories),
    # and a sector the company's article names is no conflict.
    assert story_features("Chip stocks fall on China export ban").fillers == {"@chip"}
    assert not conflicting(
        story_features("Chip stocks fall on China export ban"),
        story_features("Intel shares fall on China chip export ban"),
    )
    assert not any(
        filler[0] == "@"
        for filler in story_features("Chinese chip stocks fall on export ban").fillers
    )


def test_one_companys_shares_still_join_under_other_words() -> None:
    assert_one_story(
        "Intel shares fall on China chip export ban",
        "Intel stock slides after new China chip export ban",
        now=NOW,
        step=timedelta(minutes=15),
    )
    # Naming the other company is no conflict: "Intel and Micron shares fall" covers both.
    both = story_features("Intel shares fall on China chip export ban")
    other = story_features(
        "Micron shares fall on China chip export ban", "Micron and Intel both fell 4%."
    )
    assert not conflicting(both, other)


def test_two_things_put_on_one_list_are_two_stories() -> None:
    assert_apart(
        "China adds 17 US drone makers to export control list",
        "China adds graphite anode technology to export control list",
    )
    index = StoryIndex()
    index.add(
        "s-drones", story_features("China adds 17 US drone makers to export control list"), NOW
    )
    anodes = story_features("China adds graphite anode technology to export control list")
    assert index.find(anodes, NOW + timedelta(minutes=30)) is None


def test_one_listing_rewritten_still_joins() -> None:
    assert_one_story(
        "China adds 17 US drone makers to export control list",
        "Beijing puts 17 American drone companies on export control list",
        "China adds 17 US drone firms to its unreliable entity list",
        now=NOW,
        step=timedelta(minutes=20),
    )


def test_fillers_are_stored_with_the_features() -> None:
    features = story_features("Intel shares fall as China adds 17 US drone makers to list")
    assert {"@intel", "+#17"} < features.fillers
    assert StoryFeatures.from_json(features.to_json()) == features
    assert "fillers" not in story_features("Trade talks resume in Geneva").to_json()


def _among_other_news() -> StoryIndex:
    """An index already holding other news, as a running bot's does: there a topic's words
    ("rare earth", "magnet") are rare, and weigh as much as an event's names."""
    index = StoryIndex()
    towns = ("Leeds", "Porto", "Lyon", "Graz", "Turin", "Ghent", "Bergen", "Cork")
    subjects = ("budget", "tram line", "flood defences", "school meals", "bus fares")
    for n in range(200):
        town, subject = towns[n % len(towns)], subjects[n % len(subjects)]
        index.add(
            f"s-other{n}",
            story_features(f"{town} council votes on {subject} plan number {n}"),
            NOW - timedelta(hours=30) + n * timedelta(minutes=5),
        )
    return index


def test_rare_earth_is_one_word_not_two() -> None:
    # Counted as two shared words, "rare earth magnet" alone made the three a headline
    # pair needs; in Chinese and Japanese (稀土, レアアース) it was always one.
    title = story_features("China tightens rare earth export controls").title
    assert "earth" in title and "rar" not in title
    assert "earth" in story_features("Neodymium prices jump").title
    assert "rar" in story_features("A rare move by the central bank").title


def test_a_topics_different_events_stay_apart_among_other_news() -> None:
    # Shared: rare earth, magnet. As two words and three in all, they were enough.
    index = _among_other_news()
    index.add(
        "s-plant", story_features("Vulcan Elements opens rare earth magnet plant in Ohio"), NOW
    )
    funding = story_features("Rare earth magnet maker Arnold raises $50 million")
    assert index.find(funding, NOW + timedelta(minutes=10)) is None
    # The opening rewritten still joins among the same news.
    rewrite = story_features("Vulcan Elements starts rare earth magnet production at Ohio plant")
    assert index.find(rewrite, NOW + timedelta(minutes=20)) == "s-plant"


def test_washington_acting_and_beijing_acting_on_one_company_are_two_stories() -> None:
    # Shared: the company and its chip. One government grants, the other summons.
    licences = "US grants AMD licences to sell MI308 chips in China"
    for summons in (
        "China's internet regulator questions AMD over MI308 tracking features",
        "CAC summons AMD over MI308 security risks",
    ):
        assert conflicting(story_features(licences), story_features(summons)), summons
        assert conflicting(story_features(summons), story_features(licences)), summons


def test_both_governments_named_on_both_sides_still_join() -> None:
    # Talks, calls and visits name both governments, whoever opens the headline.
    for a, b in (
        (
            "US, Chinese trade chiefs meet in Madrid",
            "Chinese, American negotiators sit down in Madrid",
        ),
        (
            "Trump says Xi will visit Washington on May 2",
            "Xi's White House visit confirmed for May",
        ),
        ("Xi holds phone call with Trump", "Trump and Xi discuss trade in phone call"),
    ):
        assert not conflicting(story_features(a), story_features(b)), (a, b)
    # A reaction names what it reacts to, and is left to the reaction rules.
    assert not conflicting(
        story_features("US adds 12 Chinese firms to entity list"),
        story_features("China firmly opposes US entity list additions"),
    )


# Makers are an industry named by what they make (round eight's magnets burst).


def test_makers_are_named_by_what_they_make() -> None:
    for headline in (
        "EV makers warn of magnet shortage",
        "Electric car makers warn of magnet shortage",
        "Carmakers warn of magnet shortage",
        "Automakers warn of magnet shortage",
        "Car producers warn of magnet shortage",
    ):
        title = story_features(headline).title
        assert "automaker" in title and "maker" not in title, headline
    title = story_features("Battery maker Voltra cuts jobs").title
    assert "batterymaker" in title and "maker" not in title
    # Two words or one, the same industry (the product stays a word of its own).
    for one, two in (("Chipmakers", "Chip makers"), ("Winemakers", "Wine makers")):
        assert (
            story_features(f"{one} brace for tariffs").title
            <= story_features(f"{two} brace for tariffs").title
        ), two


def test_a_magnet_makers_funding_does_not_join_the_carmakers_shortage() -> None:
    # Before, rare earth, magnet and the bare word "maker" were three shared headline
    # words: the start-up's funding joined the carmakers' shortage minutes old.
    index = index_holding(
        "s-shortage",
        "Samarium magnets shortage hits EV makers",
        "Carmakers in Korea said rare earth magnet deliveries from China had stalled.",
        NOW,
    )
    funding = story_features(
        "Rare earth magnets maker Permag raises $60 million",
        "Permag, which makes cobalt-free magnets, said the round will pay for a new line.",
    )
    assert index.find(funding, NOW + timedelta(minutes=10)) is None


def test_the_carmakers_shortage_under_other_names_still_joins() -> None:
    assert_one_story(
        "Samarium magnets shortage hits EV makers",
        "Carmakers hit by samarium magnet shortage",
        "Automakers face samarium magnet shortage",
        "Electric car makers hit by samarium magnets shortage",
        now=NOW,
        step=timedelta(minutes=15),
    )


# A country named in passing is no government acting (round nine).


def test_a_country_named_as_a_place_or_its_companies_is_not_its_government() -> None:
    # Each names the other country: before, that read as both governments named, as in
    # talks, and the two acts joined among other news on "China", "US" and "export".
    listing = story_features(
        "Beijing puts 12 American drone makers on unreliable entity list",
        "China's commerce ministry said the US companies had sold weapons to Taiwan.",
    )
    chips = story_features(
        "US widens ban on memory chip exports to China",
        "The Commerce Department said the rule covers shipments to Chinese buyers.",
    )
    assert "~us" in listing.fillers and "~china" in chips.fillers
    assert conflicting(listing, chips) and conflicting(chips, listing)
    assert StoryFeatures.from_json(chips.to_json()) == chips
    # Named as a government, it still counts: "Beijing urges US to..." is no place.
    assert "~us" not in story_features("China urges US to drop drone maker sanctions").fillers


def test_visits_and_trade_flows_named_from_each_end_still_join() -> None:
    for a, b in (
        # A visit's place is its host.
        ("Trump to travel to China in May, aides say", "Beijing confirms Xi will host Trump"),
        # One trade flow, reported from either end.
        (
            "China's October corn imports from US jump to record",
            "US corn shipments to China surge to all-time high",
        ),
    ):
        assert not conflicting(story_features(a), story_features(b)), (a, b)


def test_a_companys_funding_is_not_another_companys_plant_opening() -> None:
    assert_apart(
        "Solid-state battery maker Voltaic raises $80 million",
        "Solid-state battery plant opens in Ohio",
        "Voltaic, which makes sulfide electrolytes, said the round will pay for a pilot line.",
        "QuantumCell began production at its Dayton plant, the first of its kind in the US.",
    )
    assert story_features("Voltaic Energy secures $80M for pilot line").fillers == {"$voltaic"}


def test_one_funding_round_under_other_words_still_joins() -> None:
    funding = story_features("Solid-state battery maker Voltaic raises $80 million")
    for other in (
        "Voltaic Energy secures $80M for solid-state battery line",
        "Samsung leads $80 million round in solid-state battery maker",
        "Voltaic lands backing from Samsung for solid-state battery line",
    ):
        assert not conflicting(funding, story_features(other)), other
        assert not conflicting(story_features(other), funding), other


def test_a_companys_move_named_without_shares_is_still_its_shares() -> None:
    shares = story_features("Intel shares slide as China export ban widens")
    move = story_features("Intel drops 4% on chip export restrictions")
    assert not conflicting(shares, move) and not conflicting(move, shares)
    assert move.fillers == {"@intel"}
    for not_shares in ("Exports drop 4% in November", "Soybeans jump 3% on China purchases"):
        assert not story_features(not_shares).fillers, not_shares
    # Another company's move is still another story, and a data release still apart.
    assert conflicting(shares, story_features("Micron drops 4% on chip export restrictions"))
    assert conflicting(
        story_features("Chip stocks fall as China export ban widens"),
        story_features("China's chip exports drop 4% in November"),
    )


def test_a_governments_measure_is_not_the_companys_own_announcement() -> None:
    guidance = "BIS warns companies against using Cambricon accelerators anywhere"
    for roadmap in (
        "Cambricon unveils three-year accelerator roadmap",
        "Cambricon reveals plans for four new accelerators by 2028",
    ):
        assert conflicting(story_features(guidance), story_features(roadmap)), roadmap
        assert conflicting(story_features(roadmap), story_features(guidance)), roadmap
    # Naming the government, or announcing a measure, it may still be the same story.
    for other in (
        "Cambricon unveils roadmap despite US warning on its accelerators",
        "President announces curbs on Cambricon accelerators",
    ):
        assert not conflicting(story_features(guidance), story_features(other)), other


# Round ten (tests/data/stories/dev9.jsonl): one customs release, two series.


def test_a_countrys_exports_and_its_imports_are_two_data_releases() -> None:
    exports = story_features("China's October exports rise 6%")
    imports = story_features("China's October corn imports from US hit record")
    assert conflicting(exports, imports) and conflicting(imports, exports)
    # One flow from each end is one story, and one series twice is one release.
    shipments = story_features("US corn shipments to China climb to record in October")
    assert not conflicting(imports, shipments)
    assert not conflicting(exports, story_features("Chinese exports up 6% in October"))


def test_a_figure_that_hits_a_record_reached_it() -> None:
    assert "impose" not in story_features("China's corn imports from US hit record").title
    assert "impose" not in story_features("Yuan hits 16-month low against dollar").title
    assert "impose" in story_features("China hits US with tariffs on corn").title
    # A record before a noun is an adjective: what was hit is the noun.
    assert "impose" in story_features("Tariffs hit record farm exports").title


def test_opening_something_and_cutting_something_are_two_acts() -> None:
    opening = story_features(
        "Lithium refinery opens in North Carolina",
        "Albemarle began lithium hydroxide production at its Kings Mountain refinery.",
    )
    cut = story_features("Battery producers cut output as lithium supplies dry up")
    assert conflicting(opening, cut) and conflicting(cut, opening)
    # One headline stating both opposes neither.
    assert not conflicting(
        story_features("China begins tariff cuts on US farm goods"),
        story_features("China cuts tariffs on US farm goods"),
    )


def test_a_bare_headline_the_other_articles_lead_told_joins_on_one_shared_word() -> None:
    # Shared headline words: only "lithium"; but the bare headline is the other's lead.
    index = index_holding(
        "s-refinery",
        "Lithium refinery opens in North Carolina",
        "Albemarle began lithium hydroxide production at its Kings Mountain refinery.",
        NOW,
    )
    told = story_features("Albemarle begins lithium hydroxide production at Kings Mountain")
    assert index.find(told, NOW + timedelta(minutes=20)) == "s-refinery"
    # Sharing one headline word and less of the lead is not enough.
    other = story_features("Albemarle lithium hydroxide prices fall")
    assert index.find(other, NOW + timedelta(minutes=20)) is None


def test_a_formal_act_is_a_stage_after_the_agreement_it_carries_out() -> None:
    formal = story_features("Japan formally extends rice tariff waiver for US after Tokyo talks")
    for earlier in (
        "Japan, US agree in Tokyo to extend rice tariff waiver, Lutnick says",
        "US and Japanese negotiators meet in Tokyo on rice tariff waiver",
    ):
        assert conflicting(formal, story_features(earlier)), earlier
    # The act itself, told without the word, is the same story.
    assert not conflicting(
        formal, story_features("Japan extends rice tariff waiver for US by a year")
    )
