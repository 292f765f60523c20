"""Built-in word lists for the entity detectors (``veriframe.safety.detectors``). Data only.

Written from general knowledge for this project (not mined from any dev or evaluation set). They are
examples of the well-known names a deepfake, copyright or misinformation prompt uses; the detectors also
recognise names that are *not* listed (a first name from the US Census list + a capitalised surname, a
title such as "President" + a name), so these lists need not be complete.

``*_CASED`` entries are ordinary words as well ("Drake", "Hulk", "Frozen"): they count only when written
with a capital letter and not as the first word of a sentence.
"""

from __future__ import annotations

# Real people: entertainers, athletes, business people, royals, religious leaders, influencers.
PEOPLE: tuple[str, ...] = (
    "taylor swift", "beyonce", "beyoncé", "tom cruise", "scarlett johansson", "leonardo dicaprio", "rihanna",
    "brad pitt", "angelina jolie", "kim kardashian", "khloe kardashian", "kourtney kardashian", "kris jenner",
    "kylie jenner", "kendall jenner", "lady gaga", "justin bieber", "hailey bieber", "emma watson",
    "dwayne johnson", "the rock dwayne", "keanu reeves", "selena gomez", "ariana grande", "oprah winfrey",
    "oprah", "elon musk", "mark zuckerberg", "jeff bezos", "bill gates", "melinda gates", "cristiano ronaldo",
    "lionel messi", "lebron james", "serena williams", "venus williams", "roger federer", "rafael nadal",
    "novak djokovic", "usain bolt", "tiger woods", "kanye west", "kim jong-un", "eminem", "jennifer lawrence",
    "margot robbie", "zendaya", "timothee chalamet", "timothée chalamet", "billie eilish", "shakira",
    "jackie chan", "morgan freeman", "tom hanks", "will smith", "jada pinkett smith", "johnny depp",
    "amber heard", "ed sheeran", "snoop dogg", "keira knightley", "natalie portman", "gal gadot",
    "robert downey jr", "chris hemsworth", "chris evans", "chris pratt", "jennifer aniston", "miley cyrus",
    "katy perry", "nicki minaj", "harry styles", "dua lipa", "pope francis", "pope benedict", "pope leo",
    "prince harry", "prince william", "meghan markle", "kate middleton", "king charles", "queen elizabeth",
    "princess diana", "greta thunberg", "mrbeast", "mr beast", "jimmy fallon", "jimmy kimmel",
    "ellen degeneres", "neymar", "kylian mbappe", "kylian mbappé", "michael jordan", "kobe bryant",
    "sundar pichai", "tim cook", "jensen huang", "sam altman", "warren buffett", "paris hilton",
    "jennifer lopez", "ben affleck", "matt damon", "george clooney", "julia roberts", "meryl streep",
    "nicole kidman", "anne hathaway", "sandra bullock", "denzel washington", "samuel l jackson",
    "samuel l. jackson", "ryan reynolds", "ryan gosling", "blake lively", "emma stone", "jason momoa",
    "henry cavill", "tom holland", "benedict cumberbatch", "daniel radcliffe", "rupert grint",
    "millie bobby brown", "sydney sweeney", "jenna ortega", "pedro pascal", "cillian murphy",
    "florence pugh", "anya taylor-joy", "arnold schwarzenegger", "sylvester stallone", "jason statham",
    "vin diesel", "kevin hart", "jim carrey", "adam sandler", "jack black", "owen wilson", "hugh jackman",
    "ryan seacrest", "gordon ramsay", "martha stewart", "joe rogan", "tucker carlson", "piers morgan",
    "andrew tate", "logan paul", "jake paul", "pewdiepie", "charli d'amelio", "addison rae",
    "khaby lame", "post malone", "travis scott", "jay-z", "jay z", "bruno mars", "the weeknd",
    "justin timberlake", "britney spears", "christina aguilera", "madonna ciccone", "mariah carey",
    "celine dion", "elton john", "paul mccartney", "mick jagger", "bob dylan", "bruce springsteen",
    "dolly parton", "cardi b", "megan thee stallion", "doja cat", "sza", "olivia rodrigo",
    "sabrina carpenter", "bad bunny", "j balvin", "karol g", "rosalia", "rosalía", "blackpink",
    "jungkook", "lisa manoban", "jennie kim", "michael jackson", "whitney houston", "marilyn monroe",
    "elvis presley", "steve jobs", "jack ma", "larry page", "sergey brin", "satya nadella",
    "jeff bezos", "richard branson", "mukesh ambani", "gautam adani", "bernard arnault", "larry ellison",
    "peter thiel", "sheryl sandberg", "susan wojcicki", "jack dorsey", "travis kalanick",
    "sam bankman-fried", "david beckham", "victoria beckham", "zlatan ibrahimovic", "erling haaland",
    "mohamed salah", "kevin de bruyne", "harry kane", "wayne rooney", "diego maradona", "pele", "pelé",
    "stephen curry", "steph curry", "kevin durant", "shaquille o'neal", "shaq", "tom brady",
    "patrick mahomes", "travis kelce", "simone biles", "michael phelps", "naomi osaka", "conor mcgregor",
    "mike tyson", "floyd mayweather", "muhammad ali", "lewis hamilton", "max verstappen",
    "shah rukh khan", "salman khan", "amitabh bachchan", "priyanka chopra", "deepika padukone",
    "aishwarya rai", "virat kohli", "sachin tendulkar", "dalai lama", "malala yousafzai",
    "anthony fauci", "jeffrey epstein", "ghislaine maxwell", "harvey weinstein", "bill cosby", "r kelly",
    "r. kelly", "diddy", "p diddy", "sean combs", "joe exotic", "oprah winfrey", "barbra streisand",
    "lana del rey", "adele adkins", "sia furler", "avril lavigne", "jennifer garner", "kristen stewart",
    "robert pattinson", "emma roberts", "reese witherspoon", "charlize theron", "cate blanchett",
    "halle berry", "zoe saldana", "lupita nyongo", "lupita nyong'o", "viola davis", "idris elba",
    "michael b jordan", "chadwick boseman", "mark wahlberg", "matthew mcconaughey", "christian bale",
    "heath ledger", "joaquin phoenix", "al pacino", "robert de niro", "jack nicholson", "clint eastwood",
    "harrison ford", "mark hamill", "daisy ridley", "emilia clarke", "kit harington", "sophie turner",
    "stephen king", "j.k. rowling", "jk rowling", "neil degrasse tyson", "stephen hawking",
)
# Mononyms that are ordinary words too: counted only when capitalised mid-sentence.
PEOPLE_CASED: tuple[str, ...] = (
    "Drake", "Madonna", "Adele", "Sia", "Cher", "Rihanna", "Lizzo", "Bono",
    "Ronaldo", "Messi", "Obama", "Trump", "Biden", "Putin", "Musk", "Zuckerberg", "Bezos",
)

# Political figures (also real people: both categories are filed).
POLITICIANS: tuple[str, ...] = (
    "donald trump", "melania trump", "ivanka trump", "donald trump jr", "eric trump", "joe biden",
    "hunter biden", "jill biden", "barack obama", "michelle obama", "kamala harris", "tim walz", "jd vance",
    "j.d. vance", "mike pence", "vladimir putin", "xi jinping", "volodymyr zelensky", "volodymyr zelenskyy",
    "zelenskyy", "zelensky", "emmanuel macron", "brigitte macron", "olaf scholz", "friedrich merz",
    "rishi sunak", "boris johnson", "keir starmer", "liz truss", "theresa may", "david cameron",
    "tony blair", "nigel farage", "justin trudeau", "mark carney", "pierre poilievre", "narendra modi",
    "rahul gandhi", "kim jong un", "kim jong-un", "benjamin netanyahu", "bibi netanyahu",
    "recep tayyip erdogan", "erdogan", "angela merkel", "hillary clinton", "bill clinton",
    "bernie sanders", "nancy pelosi", "ron desantis", "gavin newsom", "giorgia meloni", "jair bolsonaro",
    "lula da silva", "javier milei", "alexandria ocasio-cortez", "aoc", "ayatollah khamenei",
    "ali khamenei", "mohammed bin salman", "fumio kishida", "shinzo abe", "viktor orban", "viktor orbán",
    "marine le pen", "nicolas maduro", "cyril ramaphosa", "george w. bush", "george w bush",
    "george bush", "mitch mcconnell", "pedro sanchez", "pedro sánchez", "anthony albanese",
    "jacinda ardern", "imran khan", "lee hsien loong", "elizabeth warren", "ted cruz", "marco rubio",
    "chuck schumer", "pete buttigieg", "nikki haley", "rudy giuliani", "steve bannon", "mike johnson",
    "robert f. kennedy", "rfk jr", "kim yo jong", "bashar al-assad", "bashar assad", "saddam hussein",
    "muammar gaddafi", "osama bin laden", "abu bakr al-baghdadi", "adolf hitler", "benito mussolini",
    "joseph stalin", "mao zedong", "fidel castro", "che guevara", "hugo chavez", "alexei navalny",
    "yulia navalnaya", "sergei lavrov", "dmitry medvedev", "ursula von der leyen", "antonio guterres",
    "jens stoltenberg", "mark rutte", "claudia sheinbaum", "andres manuel lopez obrador", "amlo",
    "yoon suk yeol", "lee jae-myung", "shigeru ishiba", "prabowo subianto", "joko widodo",
    "ferdinand marcos", "rodrigo duterte", "sheikh hasina", "shehbaz sharif", "nawaz sharif",
    "hassan nasrallah", "yahya sinwar", "ismail haniyeh", "mahmoud abbas", "abdel fattah el-sisi",
    "paul kagame", "bola tinubu", "william ruto", "alexander lukashenko", "kassym-jomart tokayev",
    "ilham aliyev", "nikol pashinyan", "nelson mandela", "margaret thatcher", "winston churchill",
    "john f. kennedy", "jfk", "ronald reagan", "richard nixon", "jimmy carter", "kim il sung",
    "kim jong il",
)

# Titles that make the next capitalised word(s) a real, usually political, person.
POLITICAL_TITLES: tuple[str, ...] = (
    "President", "Vice President", "Prime Minister", "Chancellor", "Senator", "Governor", "Congressman",
    "Congresswoman", "Ayatollah", "Sheikh", "Chairman", "Premier",
    "Mayor", "Dictator",
)
ROYAL_TITLES: tuple[str, ...] = (
    "King", "Queen", "Prince", "Princess", "Pope", "Emperor", "Empress", "Sultan",
)
# Roles that, followed by "of <Capitalised name>", name one real person ("the CEO of Tesla").
ROLE_OF: tuple[str, ...] = (
    "president", "prime minister", "ceo", "founder", "chancellor", "king", "queen", "leader",
    "supreme leader", "dictator", "chairman", "head of state", "crown prince", "first lady", "pope",
    "governor", "mayor", "foreign minister", "defense minister", "defence minister",
)

# Copyrighted characters and franchises (distinctive names: matched case-insensitively).
CHARACTERS: tuple[str, ...] = (
    "mickey mouse", "minnie mouse", "donald duck", "daisy duck", "pluto the dog", "spider-man",
    "spiderman", "spider man", "batman", "superman", "wonder woman", "aquaman", "the joker", "harley quinn",
    "catwoman", "iron man", "ironman", "captain america", "black widow", "black panther", "doctor strange",
    "scarlet witch", "thanos", "deadpool", "wolverine", "captain marvel", "the avengers", "avengers",
    "justice league", "x-men", "guardians of the galaxy", "baby groot", "pikachu", "pokemon", "pokémon",
    "charizard", "jigglypuff", "darth vader", "luke skywalker", "princess leia", "han solo", "chewbacca",
    "yoda", "baby yoda", "grogu", "the mandalorian", "stormtrooper", "stormtroopers", "r2-d2", "c-3po",
    "obi-wan kenobi", "kylo ren", "star wars", "star trek", "mr spock", "captain kirk", "harry potter",
    "hermione granger", "ron weasley", "dumbledore", "voldemort", "hogwarts", "hagrid", "super mario",
    "mario bros", "luigi and mario", "mario and luigi", "princess peach", "bowser", "donkey kong",
    "yoshi", "sonic the hedgehog", "shrek", "homer simpson", "bart simpson", "marge simpson",
    "the simpsons", "spongebob", "spongebob squarepants", "patrick star", "squidward", "hello kitty",
    "buzz lightyear", "woody and buzz", "toy story", "winnie the pooh", "winnie-the-pooh", "piglet and pooh",
    "eeyore", "gandalf", "frodo baggins", "frodo", "gollum", "lord of the rings", "the hobbit",
    "optimus prime", "bumblebee transformer", "naruto", "sasuke uchiha", "goku",
    "vegeta", "dragon ball", "monkey d. luffy", "luffy", "sailor moon", "totoro",
    "my neighbor totoro", "spirited away", "howl's moving castle", "bugs bunny", "daffy duck",
    "looney tunes", "tweety bird", "scooby-doo", "scooby doo", "tom and jerry",
    "despicable me", "simba", "the lion king", "mufasa", "nemo and dory", "finding nemo", "lightning mcqueen",
    "elsa and anna", "frozen's elsa", "princess elsa", "olaf the snowman", "moana",
    "ariel the mermaid",
    "princess jasmine", "genie from aladdin", "bambi",
    "jack sparrow", "pirates of the caribbean", "indiana jones",
    "james bond", "agent 007", "lara croft", "tomb raider", "master chief", "link from zelda",
    "legend of zelda", "princess zelda", "pac-man", "pacman", "minecraft steve", "minecraft",
    "fortnite", "angry birds", "peppa pig", "paw patrol", "bluey", "cocomelon",
    "barney the dinosaur",
    "teletubbies", "sesame street", "elmo", "cookie monster", "kermit the frog", "miss piggy",
    "the muppets", "garfield", "snoopy", "charlie brown", "peanuts gang", "paddington bear",
    "thomas the tank engine", "smurfs", "the smurfs", "ninja turtles", "teenage mutant ninja turtles",
    "power rangers", "godzilla", "king kong", "ghostbusters", "et the extra-terrestrial",
    "e.t. the alien", "e.t. the extraterrestrial",
    "jurassic park", "the terminator", "robocop", "predator alien", "xenomorph", "rambo",
    "rocky balboa", "john wick", "freddy krueger", "jason voorhees", "michael myers", "chucky doll",
    "pennywise", "hannibal lecter", "darth maul", "the grinch", "willy wonka", "oompa loompa",
    "doctor who", "the tardis", "dalek", "daleks", "rick and morty", "family guy",
    "peter griffin", "south park", "cartman", "futurama", "bender from futurama", "avatar the last airbender",
    "pandora avatar", "barbie", "ken doll", "care bears", "my little pony", "strawberry shortcake",
    "hulk hogan", "the incredible hulk", "spider-verse", "venom symbiote", "ghost rider", "hellboy",
    "judge dredd", "the witcher", "geralt of rivia", "kratos", "god of war", "mortal kombat",
    "street fighter",
    "resident evil", "the last of us", "super smash bros", "zelda breath of the wild", "genshin impact",
    "overwatch", "league of legends", "world of warcraft", "grand theft auto", "gta v",
    "gta 5", "red dead redemption", "assassin's creed", "halo master chief", "pokeball", "lightsaber",
    "tony stark", "peter parker", "bruce wayne", "clark kent", "diana prince", "steve rogers",
    "natasha romanoff", "wednesday addams", "the addams family", "game of thrones",
    "daenerys targaryen", "jon snow", "the avatar aang", "shin chan", "doraemon", "pokemon trainer ash",
    "ash ketchum",
)
# Character names that are ordinary words too: counted only when capitalised mid-sentence.
CHARACTERS_CASED: tuple[str, ...] = (
    "Hulk", "Thor", "Loki", "Groot", "Venom", "Joker", "Elsa", "Olaf", "Stitch",
    "Nemo", "Dory", "Sonic", "Gollum", "Ariel", "Mulan", "Pooh", "Tigger",
    "Garfield", "Snoopy", "Goofy", "Minions", "Kirby", "Batmobile", "Gotham", "Wakanda", "Hogwarts",
    "Marvel", "Pixar", "Disney",
    # Titles that are everyday phrases in lower case ("in one piece", "a big bird", "among us") or, once
    # folded, a common word in another language ("E.T." -> "et", French "and").
    "One Piece", "Among Us", "Big Bird", "Call of Duty", "Stranger Things", "E.T",
)
# Studios and franchises whose *style* a prompt asks to imitate ("in the style of Pixar").
STUDIOS: tuple[str, ...] = (
    "disney", "pixar", "studio ghibli", "ghibli", "dreamworks", "dc comics",
    "warner bros", "nintendo", "hanna-barbera", "cartoon network", "nickelodeon",
    "laika studios", "aardman", "sony pictures animation", "blue sky studios", "toei animation",
    "kyoto animation", "lucasfilm", "marvel studios", "pokemon company", "sanrio", "rockstar games",
)
# Ambiguous studio names: counted only in a style phrase ("in the style of Marvel", "Marvel-style").
STUDIOS_STYLE_ONLY: tuple[str, ...] = ("marvel", "illumination", "dc")
# Trademarks and logos: distinctive brand names (generic-word brands such as "Apple" are left out).
BRANDS: tuple[str, ...] = (
    "coca-cola", "coca cola", "coke logo", "pepsi", "mcdonald's", "mcdonalds", "big mac", "starbucks",
    "nike logo", "nike swoosh", "air jordan", "adidas", "gucci", "louis vuitton", "rolex", "ferrari logo",
    "google logo", "samsung galaxy", "apple logo",
    "red bull", "chanel", "bmw logo", "burger king", "kfc", "nintendo switch",
    "prada", "versace", "balenciaga", "hermes birkin", "supreme logo", "tiffany & co",
    "cartier", "tesla logo", "tesla cybertruck", "cybertruck",
    "amazon logo", "amazon prime", "youtube logo", "tiktok logo", "instagram logo", "facebook logo",
    "twitter logo", "heineken", "budweiser", "marlboro", "jack daniel's", "jack daniels", "absolut vodka",
    "doritos", "cheetos", "oreo", "kitkat", "kit kat", "m&m's", "m&ms", "hershey's", "nutella",
    "pringles", "taco bell", "domino's", "pizza hut", "dunkin donuts", "wendy's",
    "target logo", "shell logo", "exxon",
    "paypal", "spotify", "airbnb", "hello fresh", "gatorade",
    "monster energy", "under armour", "puma logo", "reebok", "new balance", "converse all star",
    "vans sneakers", "the north face", "patagonia logo", "ray-ban", "oakley",
    "olympic rings", "fifa world cup logo", "nba logo", "nfl logo", "hbo", "disney+",
)

# Fabricated events presented as real: cue words and the events they usually claim.
FAKE_CUES: tuple[str, ...] = (
    "fake news", "fake footage", "fake video", "fake report", "fake photo", "fabricated footage",
    "fabricated video", "fabricated news", "deepfake", "deep fake", "deep-fake", "hoax", "false flag",
    "staged footage", "doctored footage", "doctored video", "propaganda video",
    "misinformation campaign", "disinformation campaign", "disinformation video", "fake evidence",
    "fake confession", "forged footage", "forged video",
    "made to look real", "make it look real", "make it look authentic", "looks like real news",
    "as if it were real", "pass as real", "pass it off as real", "indistinguishable from real footage",
    "fake breaking news", "fake announcement", "fake endorsement", "fake interview", "fake speech",
    "fake leaked", "fake cctv", "fake bodycam", "footage proving", "what they don't want you to see",
    "secret footage proving", "staged to look like", "photoshopped to look real",
)
REALISM_CUES: tuple[str, ...] = (
    "realistic news", "real news", "news footage", "breaking news", "news report", "news broadcast",
    "live broadcast", "leaked footage", "leaked video", "cctv footage", "security camera footage",
    "bodycam footage", "body cam footage", "dashcam footage", "authentic footage", "real footage",
    "documentary footage", "press conference", "caught on camera", "hidden camera", "exclusive footage",
    "eyewitness video", "phone footage", "viral video", "official announcement", "live on air",
    "news anchor announcing", "news anchor reporting",
)
# Events that, with a realism cue, make a fabricated-news request (a flood report alone is not).
FAKE_EVENTS: tuple[str, ...] = (
    "assassinated", "assassination", "arrested", "in handcuffs", "confessing", "confesses", "admits",
    "announcing his resignation", "announcing her resignation", "resigns", "declares war",
    "declaring war", "nuclear attack", "nuclear strike", "nuclear explosion", "terrorist attack",
    "bombing of", "invading", "invasion of", "coup", "rigged election", "election fraud", "stealing ballots",
    "ballot stuffing", "stuffing ballots", "dead body of", "found dead", "has died", "death of",
    "taking a bribe", "accepting a bribe", "snorting", "drunk", "collapsing on stage", "collapses",
    "crashes into the", "aliens landing", "alien invasion", "moon landing was fake", "vaccines cause",
    "vaccine kills", "5g towers", "chemtrails", "flat earth", "faked the moon landing", "saying that",
    "announces that", "announcing that", "claims that", "claiming that", "endorsing", "endorses",
    "admitting that", "admits that", "declaring that", "urging people not to vote",
)

# Dehumanising depictions of groups: a group word near one of these is hate.
DEHUMANISING: tuple[str, ...] = (
    "rats", "rat", "vermin", "cockroaches", "cockroach", "apes", "ape", "monkeys", "monkey", "pigs",
    "dogs", "parasites", "parasite", "insects", "subhuman", "sub-human", "animals", "savages", "savage",
    "a plague", "disease", "diseased", "filth", "trash", "garbage", "terrorists", "criminals", "thieves",
    "rapists", "inferior", "less than human", "a virus", "infestation",
)
GROUPS: tuple[str, ...] = (
    "jews", "jewish people", "jewish men", "jewish women", "muslims", "muslim men", "muslim women",
    "black people", "black men", "black women", "blacks", "africans", "african americans", "mexicans",
    "latinos", "hispanics", "immigrants", "migrants", "refugees", "asylum seekers", "asians",
    "asian people", "chinese people", "the chinese", "japanese people", "koreans", "indians",
    "hindus", "sikhs", "arabs", "palestinians", "israelis", "gypsies", "roma", "romani people",
    "gay people", "gay men", "gays", "lesbians", "homosexuals", "transgender people", "trans people",
    "trans women", "trans men", "queer people", "lgbt people", "disabled people", "the disabled",
    "autistic people", "women", "native americans", "indigenous people", "aboriginals", "christians",
    "catholics", "white people", "whites", "irish people", "polish people", "ukrainians", "russians",
    "poor people", "homeless people", "old people", "fat people",
)
DEPICTION_FRAMES: tuple[str, ...] = (
    "as", "are", "portrayed as", "depicted as", "shown as", "drawn as", "turning into", "turned into",
    "transforming into", "being",
)
STEREOTYPE_CUES: tuple[str, ...] = (
    "blackface", "yellowface", "redface", "racist caricature", "antisemitic caricature", "racist cartoon",
    "stereotypical jew", "hook-nosed jew", "happy merchant", "sambo", "golliwog", "minstrel show",
    "stereotypical mexican", "stereotypical arab terrorist", "stereotypical black",
)

# Everyday illegal acts (review by default).
EVERYDAY_ILLEGAL: tuple[str, ...] = (
    "shoplifting", "shoplifts", "shoplifter", "stealing a car", "steals a car", "stealing cars",
    "car theft", "carjacking", "carjacks", "hotwiring a car", "hotwires a car", "hot-wiring", "drunk driving",
    "driving drunk", "drink driving", "drink-driving", "driving while drunk", "driving under the influence",
    "dui", "hit and run", "hit-and-run", "burglary", "burglar breaking", "breaking into a house",
    "breaks into a house", "breaking into a car", "breaks into a car", "breaking into an apartment",
    "pickpocketing", "pickpockets", "pickpocket stealing", "purse snatching", "snatching a purse",
    "robbing a store", "robs a store", "robbing a bank", "robs a bank", "bank robbery", "armed robbery",
    "vandalism", "vandalizing", "vandalising", "vandalizes", "vandalises",
    "spray-painting graffiti on", "keying a car", "slashing tires", "smashing car windows",
    "arson", "setting fire to a house", "sets fire to a house", "setting fire to a car", "sets fire to a car",
    "torching a car", "poacher", "poachers", "illegal dumping", "street racing",
    "illegal street race", "counterfeit money", "counterfeiting", "printing fake money", "forging documents",
    "forging a passport", "fake passport", "smuggling", "smuggles", "human trafficking", "tax evasion",
    "money laundering", "insider trading", "bribing a", "bribes a", "stealing from", "steals from",
    "stealing a wallet", "steals a wallet", "stealing money", "stealing jewelry", "stealing packages",
    "porch pirate", "trespassing", "looting", "looters", "scamming", "scams an", "phishing",
    "fare evasion", "jumping the turnstile", "running a red light", "speeding away from police",
    "fleeing from police", "evading police", "underage drinking", "selling drugs",
    "drug deal", "dealing drugs",
)

# Violence against people: a violent verb with a human object ("stabbing a woman", "shoots the hostage").
VIOLENT_VERBS: tuple[str, ...] = (
    "stab", "stabs", "stabbing", "stabbed", "strangle", "strangles", "strangling", "strangled", "choke",
    "chokes", "choking", "behead", "beheads", "beheading", "beheaded", "decapitate", "decapitates",
    "decapitating", "lynch", "lynches", "lynching", "lynched", "torture", "tortures", "torturing",
    "tortured", "execute", "executes", "executing", "executed", "shoot", "shoots", "shooting",
    "kill", "kills", "killing", "killed", "murder", "murders", "murdering", "murdered", "massacre",
    "massacres", "massacring", "slaughter", "slaughters", "slaughtering", "beat", "beats", "beating",
    "punch", "punches", "punching", "kick", "kicks", "kicking", "stomp", "stomps", "stomping", "maul",
    "mauling", "assault", "assaults", "assaulting", "assaulted", "attack", "attacks", "attacking",
    "gun down", "guns down", "gunning down", "mow down", "mowing down", "run over", "runs over",
    "running over", "set fire to", "sets fire to", "setting fire to",
    "drown", "drowns", "drowning", "hang", "hangs", "hanging", "bludgeon", "bludgeoning", "slash",
    "slashing", "abduct", "abducting", "kidnap", "kidnapping", "kidnaps",
)
VICTIMS: tuple[str, ...] = (
    "man", "woman", "men", "women", "person", "people", "child", "children", "kid", "kids", "boy", "girl",
    "boys", "girls", "baby", "toddler", "teenager", "teen", "prisoner", "prisoners", "hostage", "hostages",
    "civilian", "civilians", "student", "students", "victim", "victims", "protester", "protesters",
    "officer", "police officer", "cop", "crowd", "family", "stranger", "strangers", "pedestrian",
    "pedestrians", "villagers", "worker", "neighbor", "neighbour", "wife", "husband", "girlfriend",
    "boyfriend", "mother", "father", "classmate", "classmates", "teacher", "homeless man", "old man",
    "old woman", "elderly man", "elderly woman", "journalist", "priest", "worshippers", "shoppers",
    "passengers",
)
# Context that makes hitting and beating a sport, a game or a performance ("a boxer punching a man").
SPORT_CONTEXT: tuple[str, ...] = (
    "boxing", "boxer", "boxers", "ring", "sparring", "martial arts", "karate", "judo", "taekwondo", "mma",
    "kickboxing", "wrestling", "wrestler", "fencing", "self-defense class", "self defense class", "stunt",
    "stuntman", "rehearsal", "video game", "paintball", "laser tag", "nerf", "race", "match", "chess",
    "tournament", "competition", "pillow fight", "snowball fight", "water gun", "water balloon",
)
VICTIM_DETERMINERS: tuple[str, ...] = (
    "a", "an", "the", "his", "her", "their", "two", "three", "several", "many", "some", "innocent",
    "unarmed", "young", "little", "helpless", "screaming", "crying", "kneeling", "random", "defenseless",
    "at", "into",
)

# Mutilation: a cutting verb and a human body part ("cutting off the head", "slits the throat").
CUTTING_VERBS: tuple[str, ...] = (
    "cut", "cuts", "cutting", "chop", "chops", "chopping", "saws", "sawing", "rip", "rips", "ripping",
    "tearing", "slit", "slits", "slitting", "slice", "slices", "slicing", "hack", "hacks", "hacking",
    "gouge", "gouges", "gouging", "sever", "severs", "severing", "peel", "peels", "peeling", "skinning",
    "carve", "carves", "carving", "smash", "smashes", "smashing", "cave in", "caves in", "caving in",
    "bash", "bashes", "bashing", "blow off", "blows off", "blowing off",
)
BODY_PARTS: tuple[str, ...] = (
    "head", "heads", "throat", "throats", "neck", "face", "faces", "skull", "skulls", "brain", "brains",
    "eye", "eyes", "eyeball", "eyeballs", "tongue", "ear", "ears", "nose", "fingers", "finger", "toes",
    "hand", "hands", "arm", "arms", "leg", "legs", "limbs", "limb", "stomach", "belly", "chest", "guts",
    "intestines", "entrails", "organs", "heart", "ribcage", "spine", "skin", "scalp", "teeth", "jaw",
    "genitals", "breasts",
)
# Context that makes cutting ordinary: food, medicine, crafts and props.
CUTTING_CONTEXT: tuple[str, ...] = (
    "fish", "chicken", "salmon", "tuna", "shrimp", "prawn", "prawns", "lobster", "crab", "turkey", "pig",
    "lettuce", "cabbage", "garlic", "onion", "broccoli", "cauliflower", "pineapple", "coconut", "melon",
    "watermelon", "pumpkin", "doll", "mannequin", "statue", "sculpture", "puppet", "dummy", "costume",
    "surgeon", "surgery", "operation", "operating room", "doctor", "dentist", "nurse", "patient", "hair",
    "haircut", "barber", "hairdresser", "nails", "manicure", "paper", "fabric", "cake", "bread", "cheese",
    "wood", "log", "logs", "tree", "trees", "branch", "lumber", "stone", "marble", "ice", "butcher",
    "recipe", "kitchen", "chef", "cooking", "wind", "kiss", "kisses", "candles", "bubbles", "glass",
    "dandelion", "balloon", "whistle", "horn", "mind", "potato", "potatoes", "apple", "orange", "banana",
    "tomato", "fruit", "vegetables", "carrot", "avocado", "mango", "sausage", "steak", "meat", "ham",
)
