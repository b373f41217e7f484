"""Visual concepts for hero art, and matching a brief to one. Pure Python: no torch here.

Each concept is one class of the conditional GAN. It is defined by the emoji it was trained on
(short names from ``emoji-datasource-google``) and by keywords a brief might use. Keywords are the
curated ad words below plus the words of the emoji short names, so ``alarm_clock`` teaches ``alarm``.

Matching is deterministic keyword/stem scoring: words of the product phrase (``smart watch`` in
``smart watch for runners``) weigh most, its head noun more still, the rest of the brief a little.
When nothing matches, category words (``app``, ``agency``, ``sale``) pick a sensible default, and
failing that :data:`DEFAULT_CONCEPT`. Matching never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Concept:
    name: str
    label: str
    emoji: tuple[str, ...]
    keywords: tuple[str, ...]


def _c(name: str, label: str, emoji: str, keywords: str) -> Concept:
    return Concept(
        name, label, tuple(emoji.split()), tuple(k.strip() for k in keywords.split(",") if k.strip())
    )


# Order matters only for breaking exact score ties (earlier wins).
_TABLE: tuple[Concept, ...] = (
    _c(
        "time_watch",
        "watches & time",
        "watch alarm_clock stopwatch timer_clock mantelpiece_clock hourglass hourglass_flowing_sand "
        "clock1 clock2 clock3 clock4 clock5 clock6 clock7 clock8 clock9 clock10 clock11 clock12 "
        "clock130 clock230 clock330 clock430 clock530 clock630 clock730 clock830 clock930 clock1030 "
        "clock1130 clock1230",
        "watch, smartwatch, smart watch, wristwatch, clock, alarm, timer, stopwatch, time, hour, minute, "
        "deadline, schedule, punctual, chronograph, fitness tracker, tracker, wearable, reminder",
    ),
    _c(
        "phone",
        "phones & mobile",
        "iphone calling phone telephone_receiver pager fax vibration_mode mobile_phone_off "
        "signal_strength no_mobile_phones battery low_battery electric_plug",
        "phone, smartphone, mobile, cell, cellphone, app, apps, sim, call, calling, texting, sms, "
        "telecom, carrier, 5g, 4g, data plan, charger, charging, battery, power bank, earbuds",
    ),
    _c(
        "computer",
        "computers & software",
        "computer desktop_computer keyboard three_button_mouse trackball printer floppy_disk minidisc cd "
        "dvd abacus satellite_antenna",
        "computer, laptop, pc, desktop, notebook computer, software, saas, cloud, hosting, server, "
        "keyboard, mouse, printer, code, coding, developer, programming, it, cyber, tech, startup, ai, "
        "analytics, website, web, online course, platform, data, database",
    ),
    _c(
        "camera_video",
        "cameras, film & tv",
        "camera camera_with_flash video_camera movie_camera film_frames film_projector clapper tv vhs "
        "cinema mag mag_right",
        "camera, photo, photography, photographer, video, film, movie, cinema, tv, television, "
        "streaming, stream, vlog, youtube, lens, studio, production, netflix, screening",
    ),
    _c(
        "music",
        "music & audio",
        "musical_note notes musical_score headphones microphone studio_microphone radio level_slider "
        "control_knobs saxophone guitar musical_keyboard trumpet violin drum_with_drumsticks maracas "
        "flute harp banjo accordion long_drum loudspeaker speaker sound loud_sound",
        "music, song, concert, festival, band, guitar, piano, headphone, headphones, earphone, speaker, "
        "audio, podcast, radio, playlist, singing, karaoke, dj, album, vinyl, lessons, instrument",
    ),
    _c(
        "fruit",
        "fruit",
        "apple green_apple pear tangerine lemon lime banana watermelon grapes strawberry blueberries "
        "melon cherries peach mango pineapple coconut kiwifruit tomato olive",
        "fruit, fruits, apple, banana, orange, lemon, lime, berry, berries, strawberry, grape, mango, "
        "pineapple, peach, cherry, juice, smoothie, fresh, orchard, citrus, melon",
    ),
    _c(
        "vegetables",
        "vegetables & groceries",
        "carrot broccoli leafy_green cucumber eggplant avocado potato corn hot_pepper bell_pepper onion "
        "garlic brown_mushroom ginger_root pea_pod beans peanuts chestnut root_vegetable",
        "vegetable, vegetables, veggie, veggies, vegan, vegetarian, salad, greens, organic, farm, "
        "grocery, groceries, produce, avocado, carrot, plant-based, meal kit, farmers market",
    ),
    _c(
        "meals",
        "meals & restaurants",
        "hamburger pizza hotdog taco burrito fries sandwich meat_on_bone poultry_leg cut_of_meat bacon "
        "fried_egg egg pancakes waffle bread croissant baguette_bread bagel pretzel cheese_wedge "
        "green_salad shallow_pan_of_food stew bowl_with_spoon stuffed_flatbread falafel flatbread "
        "tamale fondue butter popcorn canned_food",
        "food, restaurant, burger, hamburger, pizza, taco, sandwich, bbq, grill, steak, diner, "
        "breakfast, brunch, lunch, dinner, delivery, takeaway, takeout, bakery, bread, cheese, meal, "
        "chef, cooking, kitchen, catering, fast food, street food, food truck",
    ),
    _c(
        "asian_food",
        "asian food",
        "sushi ramen rice rice_ball rice_cracker curry spaghetti bento dumpling dango oden fried_shrimp "
        "fish_cake fortune_cookie takeout_box moon_cake sweet_potato chopsticks",
        "sushi, ramen, noodle, noodles, rice, curry, dumpling, dumplings, bento, asian, japanese, "
        "chinese, thai, korean, pasta, spaghetti, wok, dim sum",
    ),
    _c(
        "sweets",
        "sweets & desserts",
        "cake birthday cupcake doughnut cookie chocolate_bar candy lollipop custard honey_pot pie "
        "icecream ice_cream shaved_ice dango",
        "cake, cakes, cupcake, dessert, desserts, sweet, sweets, candy, chocolate, cookie, cookies, "
        "donut, doughnut, ice cream, gelato, pastry, patisserie, bakery, honey, treat, sugar",
    ),
    _c(
        "drinks",
        "drinks & coffee",
        "coffee tea teapot mate_drink bubble_tea glass_of_milk cup_with_straw beverage_box "
        "tropical_drink cocktail wine_glass beer beers champagne clinking_glasses tumbler_glass sake "
        "pouring_liquid ice_cube baby_bottle",
        "coffee, espresso, latte, cappuccino, cafe, café, tea, matcha, drink, drinks, beverage, "
        "juice, soda, water, beer, brewery, wine, winery, cocktail, bar, pub, whisky, champagne, milk, "
        "kombucha, boba, smoothie, barista, roastery, bottle, energy drink",
    ),
    _c(
        "fashion",
        "clothing & fashion",
        "shirt jeans dress kimono sari womans_clothes necktie coat scarf gloves socks shorts briefs "
        "bikini one-piece_swimsuit lab_coat safety_vest tophat womans_hat billed_cap eyeglasses "
        "dark_sunglasses goggles running_shirt_with_sash",
        "clothing, clothes, apparel, fashion, shirt, t-shirt, tee, hoodie, jacket, coat, dress, jeans, "
        "denim, pants, trousers, suit, tie, scarf, hat, cap, socks, swimwear, bikini, sunglasses, "
        "glasses, eyewear, outfit, wardrobe, style, boutique, menswear, womenswear, knitwear, uniform",
    ),
    _c(
        "shoes",
        "shoes & footwear",
        "athletic_shoe mans_shoe high_heel sandal boot hiking_boot womans_flat_shoe ballet_shoes "
        "thong_sandal ice_skate roller_skate",
        "shoe, shoes, sneaker, sneakers, trainer, trainers, footwear, boot, boots, heel, heels, sandal, "
        "sandals, loafer, slipper, slippers, running shoe, cleats, flip flop",
    ),
    _c(
        "bags_shopping",
        "bags & shopping",
        "shopping_bags handbag purse pouch school_satchel shopping_trolley label convenience_store "
        "department_store luggage briefcase gift",
        "bag, bags, handbag, purse, backpack, tote, wallet, shopping, shop, store, retail, sale, deal, "
        "deals, discount, outlet, mall, marketplace, black friday, ecommerce, e-commerce, checkout",
    ),
    _c(
        "beauty",
        "beauty & personal care",
        "lipstick nail_care ring gem prayer_beads lotion_bottle soap razor mirror haircut massage "
        "barber hair_pick folding_hand_fan crown bubbles toothbrush sponge",
        "beauty, makeup, make-up, cosmetics, lipstick, skincare, skin, serum, lotion, cream, perfume, "
        "fragrance, salon, spa, nail, nails, manicure, hair, haircut, barber, jewelry, jewellery, ring, "
        "diamond, necklace, shave, razor, grooming, soap, wellness",
    ),
    _c(
        "sport",
        "sport & games",
        "soccer basketball football baseball softball tennis volleyball rugby_football golf bowling "
        "cricket_bat_and_ball field_hockey_stick_and_ball ice_hockey_stick_and_puck lacrosse "
        "table_tennis_paddle_and_ball badminton_racquet_and_shuttlecock boxing_glove "
        "martial_arts_uniform goal_net ski sled curling_stone diving_mask fishing_pole_and_fish "
        "flying_disc trophy medal sports_medal first_place_medal second_place_medal third_place_medal",
        "sport, sports, team, league, match, tournament, championship, football, soccer, basketball, "
        "baseball, tennis, golf, volleyball, rugby, hockey, boxing, martial arts, karate, ski, skiing, "
        "fishing, trophy, medal, athlete, stadium, tickets, fan, club",
    ),
    _c(
        "fitness",
        "fitness & activity",
        "runner weight_lifter bicyclist mountain_bicyclist swimmer surfer person_doing_cartwheel "
        "person_in_lotus_position person_climbing rowboat handball water_polo golfer horse_racing "
        "skier snowboarder person_with_ball fencer wrestlers walking",
        "fitness, gym, workout, training, trainer, yoga, pilates, run, running, runner, runners, jog, "
        "jogging, marathon, cycling, bike ride, swim, swimming, surf, surfing, climbing, hiking, "
        "exercise, crossfit, athletic, active, sportswear, activewear, personal trainer, membership",
    ),
    _c(
        "vehicles",
        "cars & vehicles",
        "car oncoming_automobile blue_car racing_car taxi oncoming_taxi police_car oncoming_police_car "
        "ambulance fire_engine truck articulated_lorry pickup_truck tractor bus oncoming_bus trolleybus "
        "minibus racing_motorcycle motor_scooter auto_rickshaw bike scooter fuelpump",
        "car, cars, auto, automotive, vehicle, dealership, ev, electric car, suv, truck, van, bus, "
        "taxi, ride, rideshare, motorcycle, motorbike, scooter, bike, bicycle, e-bike, garage, "
        "mechanic, tyre, tire, parking, fuel, gas, driving, driver, rental car, car wash, insurance",
    ),
    _c(
        "rail_transit",
        "trains & transit",
        "steam_locomotive railway_car bullettrain_side bullettrain_front train2 metro light_rail "
        "station tram train monorail mountain_railway suspension_railway mountain_cableway "
        "aerial_tramway railway_track busstop",
        "train, trains, rail, railway, metro, subway, tram, transit, commute, commuter, station, "
        "underground, locomotive, cable car",
    ),
    _c(
        "air_travel",
        "flights & air travel",
        "airplane airplane_departure airplane_arriving small_airplane helicopter rocket satellite "
        "parachute seat flying_saucer passport_control customs baggage_claim left_luggage",
        "flight, flights, airline, airlines, airport, plane, airplane, fly, flying, travel deal, "
        "holiday, vacation, trip, getaway, booking, tickets, pilot, drone, rocket, space, aviation",
    ),
    _c(
        "travel",
        "travel & outdoors",
        "beach_with_umbrella desert_island camping tent national_park mountain snow_capped_mountain "
        "volcano desert mount_fuji earth_africa earth_americas earth_asia globe_with_meridians "
        "world_map compass ship passenger_ship ferry boat speedboat motor_boat canoe anchor ring_buoy "
        "bellhop_bell hotsprings",
        "travel, hotel, resort, beach, island, cruise, boat, sailing, camping, camp, outdoor, outdoors, "
        "adventure, tour, tourism, destination, hostel, airbnb, guesthouse, mountain, hiking trip, "
        "world, global, international, explore, kayak, holiday home",
    ),
    _c(
        "money",
        "money & finance",
        "moneybag credit_card dollar euro pound yen money_with_wings coin receipt chart "
        "currency_exchange heavy_dollar_sign atm bank chart_with_upwards_trend",
        "money, finance, financial, bank, banking, fintech, loan, loans, mortgage, credit, credit card, "
        "debit, payment, payments, pay, invest, investing, investment, stock, stocks, crypto, bitcoin, "
        "savings, save, budget, tax, accounting, accountant, insurance, wealth, cash, coin, fund",
    ),
    _c(
        "mail",
        "mail & delivery",
        "email e-mail envelope_with_arrow incoming_envelope love_letter package mailbox "
        "mailbox_closed mailbox_with_mail mailbox_with_no_mail postbox outbox_tray inbox_tray "
        "ballot_box_with_ballot postal_horn",
        "mail, email, e-mail, newsletter, inbox, letter, post, postal, parcel, package, shipping, "
        "delivery, courier, logistics, subscription box, box, invitation, marketing email",
    ),
    _c(
        "tools",
        "tools & construction",
        "hammer wrench screwdriver hammer_and_wrench hammer_and_pick nut_and_bolt gear toolbox "
        "carpentry_saw axe pick shovel ladder hook magnet compression link chains "
        "building_construction construction bricks",
        "tool, tools, hardware, diy, repair, repairs, fix, handyman, plumber, plumbing, electrician, "
        "construction, contractor, builder, renovation, remodel, workshop, drill, engineering, "
        "maintenance, manufacturing, industrial",
    ),
    _c(
        "health",
        "health & medical",
        "pill syringe adhesive_bandage stethoscope drop_of_blood x-ray crutch medical_symbol hospital "
        "thermometer microbe dna test_tube petri_dish microscope health_worker tooth "
        "anatomical_heart lungs mask face_with_thermometer",
        "health, healthcare, medical, medicine, doctor, clinic, hospital, pharmacy, pill, pills, "
        "vitamin, vitamins, supplement, supplements, dental, dentist, teeth, nurse, therapy, "
        "physiotherapy, telehealth, lab, test, vaccine, care, insurance plan, mental health, biotech",
    ),
    _c(
        "home_goods",
        "home & household",
        "couch_and_lamp bed chair door window bathtub shower toilet broom basket bucket sponge "
        "roll_of_paper plunger fire_extinguisher elevator safety_pin mouse_trap key old_key lock "
        "closed_lock_with_key bulb candle",
        "home, household, furniture, sofa, couch, bed, mattress, chair, interior, decor, cleaning, "
        "cleaner, laundry, bathroom, kitchenware, lamp, lighting, candle, storage, security, lock, "
        "smart home, moving, housekeeping, appliance, appliances",
    ),
    _c(
        "real_estate",
        "buildings & real estate",
        "house house_with_garden house_buildings derelict_house_building office classical_building "
        "hotel school department_store factory bank post_office european_post_office japanese_castle "
        "european_castle wedding hut stadium cityscape city_sunset city_sunrise",
        "house, houses, home loan, apartment, apartments, flat, condo, real estate, realtor, property, "
        "properties, rent, rental, lease, building, buildings, office space, coworking, city, "
        "neighbourhood, neighborhood, architecture, castle, venue",
    ),
    _c(
        "flowers",
        "flowers",
        "rose tulip cherry_blossom hibiscus sunflower blossom rosette bouquet white_flower lotus "
        "hyacinth wilted_flower",
        "flower, flowers, florist, bouquet, rose, roses, tulip, sunflower, blossom, bloom, floral, "
        "wedding flowers, valentine bouquet, garden centre",
    ),
    _c(
        "plants",
        "plants & garden",
        "seedling herb potted_plant evergreen_tree deciduous_tree palm_tree cactus leaves fallen_leaf "
        "maple_leaf four_leaf_clover shamrock ear_of_rice mushroom leafless_tree empty_nest "
        "nest_with_eggs",
        "plant, plants, garden, gardening, houseplant, tree, trees, forest, nature, green, eco, "
        "sustainable, sustainability, environment, climate, recycling, compost, seed, seeds, "
        "landscaping, lawn, herbs, cactus, pot, planter, plant pot, flower pot, succulent",
    ),
    _c(
        "pets",
        "pets",
        "dog dog2 poodle service_dog guide_dog cat cat2 black_cat hamster rabbit rabbit2 mouse mouse2 "
        "feet smiley_cat smile_cat joy_cat heart_eyes_cat smirk_cat kissing_cat pouting_cat "
        "crying_cat_face scream_cat",
        "pet, pets, dog, dogs, puppy, cat, cats, kitten, vet, veterinary, grooming, pet food, dog food, cat food, kibble, "
        "dog walking, pet shop, rabbit, hamster, animal shelter, adoption",
    ),
    _c(
        "wildlife",
        "animals & wildlife",
        "lion_face tiger tiger2 leopard elephant giraffe_face zebra_face rhinoceros hippopotamus "
        "gorilla orangutan monkey monkey_face bear polar_bear panda_face koala wolf fox_face deer "
        "moose bison kangaroo llama camel dromedary_camel racehorse horse cow cow2 pig pig2 sheep "
        "ram goat ox water_buffalo boar raccoon badger otter sloth skunk beaver hedgehog chipmunk "
        "unicorn_face mammoth crocodile snake turtle lizard dragon_face sauropod t-rex frog",
        "animal, animals, wildlife, zoo, safari, farm animals, lion, tiger, bear, panda, horse, cow, "
        "conservation, kids, children, toy animal, nature reserve",
    ),
    _c(
        "birds",
        "birds",
        "bird black_bird dove_of_peace eagle owl parrot peacock flamingo penguin swan duck goose "
        "rooster chicken baby_chick hatching_chick hatched_chick turkey dodo phoenix feather wing",
        "bird, birds, chicken, poultry, eggs, duck, owl, eagle, parrot, birdwatching, feather, tweet, "
        "twitter",
    ),
    _c(
        "sea_life",
        "sea life & seafood",
        "fish tropical_fish blowfish dolphin whale whale2 shark octopus squid crab lobster shrimp "
        "oyster shell seal coral jellyfish ocean",
        "fish, seafood, ocean, sea, marine, aquarium, diving, scuba, snorkel, whale, dolphin, crab, "
        "lobster, shrimp, oyster, sushi bar, fishmonger, coast",
    ),
    _c(
        "weather",
        "weather & sun",
        "sunny sun_with_face mostly_sunny partly_sunny barely_sunny partly_sunny_rain cloud rain_cloud "
        "snow_cloud thunder_cloud_and_rain lightning tornado fog cyclone rainbow umbrella "
        "closed_umbrella umbrella_with_rain_drops umbrella_on_ground snowman snowman_without_snow "
        "snowflake droplet zap fire thermometer wind_blowing_face",
        "weather, sun, sunny, summer, winter, snow, rain, umbrella, rainbow, cloud, storm, heat, "
        "heating, cooling, air conditioning, hvac, solar, energy, electricity, power, sunscreen, "
        "forecast, season, seasonal",
    ),
    _c(
        "night_sky",
        "night sky & space",
        "new_moon waxing_crescent_moon first_quarter_moon moon full_moon waning_gibbous_moon "
        "last_quarter_moon waning_crescent_moon crescent_moon new_moon_with_face "
        "first_quarter_moon_with_face last_quarter_moon_with_face full_moon_with_face star star2 "
        "stars milky_way ringed_planet comet night_with_stars sparkles dizzy",
        "night, moon, star, stars, sleep, sleeping, dream, astrology, horoscope, galaxy, planet, "
        "astronomy, nightlife, evening, bedtime, insomnia, meditation app",
    ),
    _c(
        "celebration",
        "celebration & events",
        "tada confetti_ball balloon gift ribbon fireworks sparkler christmas_tree jack_o_lantern "
        "tanabata_tree dolls flags wind_chime red_envelope firecracker reminder_ribbon ticket "
        "admission_tickets partying_face birthday",
        "party, parties, celebration, celebrate, event, events, birthday, wedding, anniversary, "
        "gift, gifts, present, christmas, holiday season, halloween, new year, festival, launch, "
        "ticket, tickets, giveaway, promotion, promo, surprise, congratulations",
    ),
    _c(
        "books_education",
        "books & education",
        "books book closed_book green_book blue_book orange_book notebook "
        "notebook_with_decorative_cover ledger scroll newspaper rolled_up_newspaper page_facing_up "
        "page_with_curl bookmark_tabs bookmark memo pencil2 black_nib lower_left_ballpoint_pen "
        "lower_left_fountain_pen mortar_board school_satchel",
        "book, books, ebook, audiobook, reading, read, library, author, novel, publishing, magazine, "
        "news, newspaper, school, education, learn, learning, course, courses, class, classes, "
        "tutoring, tutor, university, college, student, students, study, exam, language lessons, "
        "writing, journal, stationery, pen, notebook",
    ),
    _c(
        "office",
        "office & business",
        "briefcase file_folder open_file_folder card_index card_index_dividers card_file_box "
        "file_cabinet clipboard pushpin round_pushpin paperclip linked_paperclips straight_ruler "
        "triangular_ruler bar_chart chart_with_upwards_trend chart_with_downwards_trend calendar date "
        "spiral_calendar_pad spiral_note_pad wastebasket scissors",
        "office, business, b2b, enterprise, corporate, consulting, consultant, agency, crm, hr, "
        "recruiting, recruitment, hiring, jobs, career, payroll, invoicing, invoice, productivity, "
        "project management, meeting, meetings, calendar, scheduling, workflow, legal, lawyer, "
        "marketing, sales, report, dashboard, conference, webinar, coworking space, firm",
    ),
    _c(
        "games_toys",
        "games & toys",
        "video_game joystick game_die jigsaw teddy_bear kite yo-yo 8ball dart bowling slot_machine "
        "black_joker mahjong flower_playing_cards crystal_ball magic_wand pinata nesting_dolls "
        "mirror_ball chess_pawn spades clubs hearts diamonds",
        "game, games, gaming, gamer, video game, esports, console, playstation, xbox, nintendo, toy, "
        "toys, puzzle, puzzles, board game, chess, cards, casino, poker, lottery, kids, play, arcade, "
        "blocks, building blocks, lego, teddy, plush, doll, dolls",
    ),
    _c(
        "art_design",
        "art, crafts & design",
        "art frame_with_picture performing_arts thread yarn sewing_needle knot lower_left_paintbrush "
        "lower_left_crayon straight_ruler triangular_ruler scissors",
        "art, artist, arts, craft, crafts, crafting, design, designer, graphic design, painting, "
        "paint, drawing, illustration, gallery, museum, theatre, theater, knitting, sewing, yarn, "
        "creative, pottery, tattoo, printing, print shop",
    ),
    _c(
        "love",
        "love & hearts",
        "heart orange_heart yellow_heart green_heart blue_heart purple_heart brown_heart black_heart "
        "white_heart two_hearts revolving_hearts heartpulse heartbeat sparkling_heart cupid gift_heart "
        "heart_decoration heavy_heart_exclamation_mark_ornament broken_heart kiss",
        "love, heart, hearts, dating, date night, romance, romantic, valentine, valentines, "
        "valentine's, couple, couples, wedding ring, engagement, charity, donate, donation, "
        "nonprofit, volunteer, kindness, community, care package",
    ),
)

CONCEPTS: dict[str, Concept] = {c.name: c for c in _TABLE}
CONCEPT_NAMES: tuple[str, ...] = tuple(CONCEPTS)
DEFAULT_CONCEPT = "celebration"

# Words that say what kind of business it is, used only when no concept keyword matches.
_CATEGORY_FALLBACKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("computer", ("app", "software", "digital", "online", "tool", "platform", "solution", "api")),
    ("office", ("company", "services", "professional", "team", "management", "consultancy", "b2b")),
    ("bags_shopping", ("shop", "store", "brand", "product", "collection", "range", "new", "offer")),
    ("celebration", ("event", "launch", "campaign", "promo")),
)

# Words that carry no meaning for matching (and short-name fragments that would mislead).
_STOP_WORDS = (
    "a an and the for with to of in on by at from your our my new best top great free good "
    "left right lower upper small large medium black white heavy with without face person "
    "one two three four five six seven eight nine ten symbol sign oncoming mans womans "
    "first second third quarter last place shaped service guide off no mark ornament decoration side front "
    "exclamation with_flash stick ball and"
)
_STOP = frozenset(_STOP_WORDS.split())
_TOKEN = re.compile(r"[a-z0-9][a-z0-9'+&]*")
_SPLITTERS = re.compile(r"\s+(?:for|that|which|with|to|in|by|from|of)\s+|[,;:()–—|/]|\s-\s", re.IGNORECASE)


def stem(word: str) -> str:
    """A tiny, predictable English stemmer: plurals and possessives only (``watches`` -> ``watch``)."""
    w = word.lower().strip("'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("ches", "shes", "sses", "xes", "zes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def _tokens(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(text.lower())]


def _phrases(tokens: list[str]) -> dict[str, int]:
    """Single tokens and adjacent pairs (``smart watch``), each with the index of its last token."""
    out: dict[str, int] = {}
    for i, t in enumerate(tokens):
        out[t] = i
        if i:
            out[f"{tokens[i - 1]} {t}"] = i
    return out


@lru_cache(maxsize=1)
def _keyword_index() -> dict[str, dict[str, float]]:
    """concept -> {stemmed keyword phrase: weight}. Curated words weigh 1.0, short-name words 0.6."""
    index: dict[str, dict[str, float]] = {}
    for c in _TABLE:
        kws: dict[str, float] = {}
        for short in c.emoji:
            for part in re.split(r"[_\-]", short):
                if (
                    len(part) > 2
                    and part not in _STOP
                    and not part.isdigit()
                    and not part.startswith("clock")
                ):
                    kws.setdefault(stem(part), 0.6)
        for kw in c.keywords:
            toks = _tokens(kw)
            if toks:
                kws[" ".join(toks)] = 1.0 + 0.5 * (len(toks) - 1)
        index[c.name] = kws
    return index


def _product_phrase(text: str) -> str:
    head = _SPLITTERS.split(text, maxsplit=1)[0].strip()
    return head or text


def score_concepts(brief_text: str, concepts: list[str] | None = None) -> dict[str, float]:
    """Keyword scores per concept (0.0 where nothing matched). Deterministic."""
    names = [n for n in (concepts if concepts is not None else CONCEPT_NAMES)]
    text = brief_text or ""
    product = _tokens(_product_phrase(text))
    everything = _tokens(text)
    head = product[-1] if product else ""
    p_phr, all_phr = _phrases(product), _phrases(everything)
    index = _keyword_index()
    scores: dict[str, float] = {}
    for name in names:
        kws = index.get(name)
        if kws is None:
            scores[name] = 0.0
            continue
        s = 0.0
        for kw, w in kws.items():
            if kw in p_phr:
                # Later words of the product phrase are nearer its head noun: "organic COFFEE".
                nearness = (p_phr[kw] + 1) / len(product)
                s += (3.0 + nearness) * w + (2.0 if kw == head or kw.endswith(" " + head) else 0.0)
            elif kw in all_phr:
                s += 1.0 * w
        scores[name] = s
    return scores


def top_concepts(text: str, k: int = 3, concepts: list[str] | None = None) -> list[str]:
    """The ``k`` best concepts for ``text``, best first; always ``k`` names (padded with fallbacks)."""
    names = list(concepts) if concepts is not None else list(CONCEPT_NAMES)
    if not names or k <= 0:
        return []
    scores = score_concepts(text, names)
    order = {n: i for i, n in enumerate(names)}
    ranked = [n for n in sorted(names, key=lambda n: (-scores[n], order[n])) if scores[n] > 0]
    fallback = _fallback(text, names)
    if fallback not in ranked:
        ranked.append(fallback)
    ranked.extend(n for n in names if n not in ranked)
    return ranked[:k]


def _fallback(text: str, names: list[str]) -> str:
    words = set(_tokens(text or ""))
    for concept, cues in _CATEGORY_FALLBACKS:
        if concept in names and words & set(cues):
            return concept
    if DEFAULT_CONCEPT in names:
        return DEFAULT_CONCEPT
    return names[0]


def match_concept(brief_text: str, concepts: list[str] | None = None) -> str:
    """The single best concept for a brief; a sensible default when nothing matches. Never raises.

    ``concepts`` restricts the choice to what a given model knows (its class list).
    """
    try:
        names = list(concepts) if concepts is not None else list(CONCEPT_NAMES)
        if not names:
            return DEFAULT_CONCEPT
        return top_concepts(brief_text, 1, names)[0]
    except Exception:  # matching must never break a campaign
        return DEFAULT_CONCEPT if concepts is None or DEFAULT_CONCEPT in concepts else list(concepts)[0]
