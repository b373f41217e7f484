"""The data behind :mod:`engine.inference.creative.concepts`: the concept table (emoji short names and
curated English keywords per concept), the category fallbacks, the Chinese keyword table and the word
lists the matcher strips. Pure data, no logic beyond building the tuples. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass


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

# Words that say what kind of business it is, used only when no concept keyword matches.
_CATEGORY_FALLBACKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("computer", ("app", "software", "digital", "online", "tool", "platform", "solution", "api")),
    ("office", ("company", "services", "professional", "team", "management", "consultancy", "b2b")),
    ("bags_shopping", ("shop", "store", "brand", "product", "collection", "range", "new", "offer")),
    ("celebration", ("event", "launch", "campaign", "promo")),
)

# Chinese keywords per concept (simplified, plus common traditional forms where they differ). Matched by
# substring, not by token: see _zh_scores. No keyword is listed under two concepts (tests check it).
_ZH_KEYWORDS: dict[str, tuple[str, ...]] = {
    name: tuple(words.split())
    for name, words in {
        "time_watch": "手表 智能手表 腕表 机械表 石英表 表带 钟表 时钟 挂钟 闹钟 秒表 计时器 定时器 沙漏 "
        "手环 智能手环 可穿戴 提醒 日程 手錶 智慧手錶 鐘錶 時鐘 鬧鐘",
        "phone": "手机 智能手机 手机壳 手机膜 手机套餐 手机应用 应用 移动应用 充电器 充电宝 移动电源 数据线 "
        "电池 话费 流量卡 电话 短信 运营商 手機 手機殼 充電器 行動電源 電話 簡訊",
        "computer": "电脑 笔记本电脑 平板电脑 台式机 软件 云服务 云计算 服务器 键盘 鼠标 打印机 编程 程序员 "
        "代码 人工智能 网站 数据库 网络安全 科技 数据分析 電腦 筆電 軟體 伺服器 滑鼠",
        "camera_video": "相机 摄像机 摄像头 单反 镜头 摄影 摄影师 拍照 照片 写真 视频 短视频 电影 电影院 影院 "
        "电视 电视剧 直播 影视 相機 攝影 電影 電視 影片",
        "music": "音乐 歌曲 演唱会 音乐节 乐队 吉他 钢琴 小提琴 乐器 耳机 蓝牙耳机 降噪耳机 音箱 音响 麦克风 "
        "播客 电台 唱歌 专辑 黑胶 音樂 耳機 喇叭 鋼琴 樂器",
        "fruit": "水果 苹果 香蕉 橙子 橙汁 柠檬 草莓 蓝莓 葡萄 芒果 菠萝 桃 樱桃 车厘子 西瓜 猕猴桃 西红柿 榴莲 "
        "荔枝 果汁 番茄 蘋果 鳳梨 檸檬 櫻桃",
        "vegetables": "蔬菜 青菜 蔬果 沙拉 轻食 素食 有机 植物基 农场 生鲜 杂货 买菜 胡萝卜 西兰花 土豆 "
        "黄瓜 茄子 牛油果 玉米 辣椒 蘑菇 纯素 有機 農場 馬鈴薯",
        "meals": "美食 餐厅 饭店 餐馆 餐饮 汉堡 披萨 三明治 热狗 烧烤 烤肉 牛排 炸鸡 薯条 早餐 午餐 晚餐 "
        "外卖 快餐 面包 小吃 餐廳 漢堡 麵包 外送",
        "asian_food": "寿司 拉面 面条 米饭 炒饭 米粉 咖喱 饺子 包子 馄饨 点心 便当 中餐 日料 韩餐 火锅 "
        "麻辣烫 意面 月饼 粽子 筷子 壽司 拉麵 麵條 餃子",
        "sweets": "蛋糕 甜品 甜点 甜食 糖果 巧克力 饼干 曲奇 甜甜圈 冰淇淋 冰激凌 雪糕 马卡龙 蛋挞 糕点 "
        "烘焙 蜂蜜 零食 布丁 棒棒糖 甜點 餅乾 糕點",
        "drinks": "咖啡 咖啡机 咖啡杯 咖啡馆 拿铁 茶 茶叶 奶茶 抹茶 饮料 饮品 汽水 矿泉水 啤酒 红酒 葡萄酒 "
        "酒 鸡尾酒 酒吧 威士忌 牛奶 水杯 保温杯 飲料 紅酒",
        "fashion": "服装 服饰 衣服 女装 男装 时尚 穿搭 T恤 衬衫 卫衣 外套 羽绒服 连衣裙 裙 裤 牛仔裤 西装 "
        "围巾 帽 袜 泳衣 眼镜 太阳镜 服裝 時尚",
        "shoes": "鞋 鞋子 鞋履 运动鞋 跑鞋 跑步鞋 球鞋 篮球鞋 板鞋 帆布鞋 皮鞋 高跟鞋 靴 靴子 雪地靴 凉鞋 "
        "拖鞋 平底鞋 登山鞋 溜冰鞋 運動鞋 涼鞋",
        "bags_shopping": "包包 手提包 背包 双肩包 书包 钱包 箱包 行李箱 旅行箱 购物 网购 商店 商城 商场 "
        "超市 便利店 零售 折扣 打折 双十一 电商 購物 錢包 電商 商場",
        "beauty": "美妆 化妆品 彩妆 口红 护肤 面霜 面膜 香水 美容 美发 理发 美甲 珠宝 钻石 项链 戒指 "
        "剃须刀 洗发水 牙刷 按摩 美妝 化妝品 護膚 保養品 珠寶",
        "sport": "体育 运动 赛事 比赛 联赛 球队 足球 篮球 网球 排球 羽毛球 乒乓球 高尔夫 棒球 拳击 武术 "
        "滑雪 钓鱼 奖杯 运动员 球迷 體育 運動 籃球 比賽",
        "fitness": "健身 健身房 锻炼 训练 私教 瑜伽 普拉提 跑步 慢跑 马拉松 骑行 游泳 冲浪 攀岩 徒步 登山 "
        "运动服 运动装 减脂 哑铃 瑜珈 鍛鍊 馬拉松 運動服 訓練",
        "vehicles": "汽车 车 电动车 新能源汽车 卡车 面包车 巴士 出租车 网约车 摩托车 自行车 单车 滑板车 "
        "车行 汽修 轮胎 停车 加油站 驾校 租车 洗车 汽車 電動車 機車 計程車",
        "rail_transit": "火车 列车 高铁 动车 地铁 轻轨 有轨电车 铁路 轨道交通 公交 通勤 车站 火车票 车票 "
        "缆车 磁悬浮 火車 高鐵 地鐵 捷運 鐵路 車站 車票",
        "air_travel": "机票 航班 航空 航空公司 飞机 机场 飞行 度假 假期 订票 飞行员 无人机 火箭 航天 太空 "
        "登机 機票 飛機 機場 無人機",
        "travel": "旅行 旅游 酒店 民宿 度假村 海滩 沙滩 海岛 邮轮 帆船 露营 帐篷 户外 探险 自由行 景点 景区 "
        "导游 温泉 环球 旅遊 露營 飯店 海灘 溫泉",
        "money": "金融 理财 银行 贷款 房贷 信用卡 支付 投资 基金 股票 比特币 加密货币 储蓄 存款 记账 税务 "
        "会计 保险 财富 现金 銀行 貸款 理財 投資 保險",
        "mail": "邮件 电子邮件 邮箱 邮局 邮政 邮寄 信件 信封 明信片 快递 包裹 物流 寄件 配送 仓储 订阅盒 "
        "邀请函 请柬 郵件 郵局 郵政 快遞 郵寄",
        "tools": "工具 工具箱 五金 电动工具 电钻 扳手 螺丝刀 锤子 维修 修理 装修 翻新 家装 电工 水管 建筑 "
        "施工 梯子 建材 制造 工业 机械 裝修 維修 建築",
        "health": "健康 医疗 医院 诊所 医生 药 药品 药店 维生素 保健品 营养品 牙科 牙医 口腔 护士 理疗 康复 "
        "心理咨询 体检 疫苗 醫療 醫院 醫生 藥 診所",
        "home_goods": "家居 家具 沙发 床垫 床上用品 椅子 茶几 衣柜 收纳 清洁 家政 洗衣 厨具 餐具 灯具 台灯 "
        "蜡烛 门锁 智能家居 搬家 家电 吸尘器 沙發 家電 傢俱",
        "real_estate": "房地产 地产 楼盘 房子 房屋 住宅 公寓 别墅 二手房 新房 买房 租房 房源 房产 中介 物业 "
        "写字楼 联合办公 城市 场地 房地產 樓盤 別墅 租屋 仲介",
        "flowers": "鲜花 花束 花店 花卉 花艺 插花 捧花 花篮 玫瑰 郁金香 向日葵 百合 樱花 荷花 莲花 康乃馨 "
        "兰花 鮮花 櫻花 花藝 蘭花 鬱金香",
        "plants": "植物 绿植 盆栽 盆景 多肉 仙人掌 花园 园艺 花盆 种子 种植 树苗 森林 自然 环保 绿色 可持续 "
        "低碳 回收 堆肥 草坪 綠植 園藝 花園 環保",
        "pets": "宠物 宠物用品 宠物医院 宠物美容 宠物食品 狗 狗狗 猫 猫咪 狗粮 猫粮 猫砂 兽医 遛狗 领养 仓鼠 "
        "兔子 寵物 貓 獸醫 飼料 領養",
        "wildlife": "动物 野生动物 动物园 动物保护 狮子 老虎 熊猫 大象 长颈鹿 斑马 猴子 狐狸 考拉 袋鼠 恐龙 "
        "骏马 奶牛 绵羊 動物 動物園 獅子 熊貓 長頸鹿 恐龍",
        "birds": "鸟 小鸟 鸟类 观鸟 鸡 家禽 鸡蛋 鸭 鹅 猫头鹰 老鹰 鹦鹉 孔雀 企鹅 天鹅 鸽子 羽毛 鳥 雞 雞蛋 "
        "鴨 貓頭鷹",
        "sea_life": "鱼 海鲜 海洋 大海 海洋馆 水族馆 水族 潜水 浮潜 鲸鱼 海豚 螃蟹 大闸蟹 龙虾 虾 生蚝 三文鱼 "
        "金鱼 鱼缸 魚 海鮮 潛水 龍蝦 蝦 鮭魚",
        "weather": "天气 晴天 阳光 太阳 夏天 夏季 冬天 冬季 下雪 雪花 下雨 雨伞 彩虹 高温 暖气 供暖 空调 "
        "太阳能 光伏 能源 电力 防晒 天氣 冷氣 雨傘",
        "night_sky": "夜晚 夜空 星空 星星 月亮 月光 星座 占星 运势 星球 银河 天文 宇宙 睡眠 助眠 失眠 晚安 "
        "夜生活 夜店 冥想 運勢 銀河",
        "celebration": "派对 聚会 庆祝 活动 生日 婚礼 周年庆 纪念日 礼物 礼品 礼盒 圣诞 万圣节 新年 春节 "
        "节日 烟花 红包 抽奖 促销 发布会 门票 派對 婚禮 禮物",
        "books_education": "书 图书 书店 阅读 小说 杂志 新闻 学校 教育 学习 课程 网课 培训 补习 大学 考试 "
        "留学 英语 文具 笔记本 書 課程 閱讀 學習 補習",
        "office": "办公 办公室 办公用品 商务 企业 咨询 顾问 招聘 人力资源 求职 薪资 发票 效率 项目管理 会议 "
        "日历 协作 律师 法律 营销 广告 销售 展会 辦公 會議",
        "games_toys": "游戏 手游 网游 电竞 游戏机 玩具 益智 拼图 桌游 棋牌 象棋 围棋 扑克 彩票 乐高 积木 "
        "公仔 玩偶 娃娃 盲盒 手办 遊戲 手遊 電競 積木",
        "art_design": "艺术 艺术品 手工 手作 设计 设计师 平面设计 绘画 画画 油画 插画 画廊 美术 博物馆 展览 "
        "话剧 剧场 编织 毛线 陶艺 纹身 书法 藝術 設計 繪畫",
        "love": "爱情 恋爱 约会 相亲 交友 浪漫 情人节 七夕 情侣 婚戒 求婚 订婚 慈善 公益 捐款 志愿者 基金会 "
        "社区 爱心 愛情 戀愛 約會 情人節 情侶 志工",
    }.items()
}

# Chinese cues for the same category fallbacks (same order and meaning), matched by substring.
_ZH_CATEGORY_FALLBACKS: dict[str, tuple[str, ...]] = {
    "computer": (
        "应用",
        "软件",
        "軟體",
        "数字",
        "數位",
        "在线",
        "线上",
        "網上",
        "网上",
        "工具",
        "平台",
        "解决方案",
        "小程序",
        "系统",
    ),
    "office": (
        "公司",
        "企业",
        "企業",
        "服务",
        "服務",
        "专业",
        "專業",
        "团队",
        "團隊",
        "管理",
        "咨询",
        "諮詢",
        "机构",
    ),
    "bags_shopping": (
        "店",
        "商店",
        "品牌",
        "产品",
        "產品",
        "系列",
        "新品",
        "新款",
        "优惠",
        "優惠",
        "特价",
        "上新",
    ),
    "celebration": ("活动", "活動", "发布", "發布", "上市", "推广", "推廣", "促销", "促銷"),
}

# Generic words that close a Chinese product phrase without being its head noun: in 跑步鞋专卖店 or
# 咖啡订阅服务 the head is 鞋 / 咖啡, not 店 / 服务. Stripped (longest first) before finding the head.
_ZH_TAIL_WORDS = (
    "专卖店 旗舰店 体验店 门店 网店 店铺 店 品牌 服务 平台 公司 产品 系列 新品 新款 专区 商城 中心 "
    "工作室 应用 小程序 活动 礼盒 套装 套餐 用品 配送 定制 订阅 官网 促销 特惠 优惠 上市 发布 系统 "
    "解决方案 方案 外卖 外送 门票 專賣店 旗艦店 門店 服務 產品 應用 活動 禮盒 訂閱 優惠 門票"
)

# Words that carry no meaning for matching (and short-name fragments that would mislead).
_STOP_WORDS = (
    "a an and the for with to of in on by at from your our my new best top great free good "
    "left right lower upper small large medium black white heavy with without face person "
    "one two three four five six seven eight nine ten symbol sign oncoming mans womans "
    "first second third quarter last place shaped service guide off no mark ornament decoration side front "
    "exclamation with_flash stick ball and"
)
