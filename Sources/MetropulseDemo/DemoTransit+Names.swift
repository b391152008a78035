import MetropulseConnectors
public import MetropulseCore

extension DemoTransit {
    /// Stop names of the demo network, S01 to S40 in order.
    static let stopNames = [
        "Porte du Nord", "Les Tilleuls", "Marché Couvert", "Rue des Écoles", "Hôtel de Ville", "Place Carnot",
        "Gare Centrale", "Pont Neuf", "Jardin des Plantes", "Hôpital Saint-Louis", "Les Coteaux", "Porte du Sud",
        "Parc des Expositions", "Cité Universitaire", "Bibliothèque", "Quai Voltaire", "Opéra", "Arts et Métiers",
        "Place d'Italie", "Musée, Beaux-Arts", "Stade Municipal", "Zone Industrielle", "Clos Fleuri", "Église",
        "Mairie Annexe", "Lycée Jean Moulin", "Halles", "Carrefour Pasteur", "Piscine", "Caserne",
        "Cimetière de l'Est", "Terminus Grand Pré", "Aéroport", "Fontaine \"Wallace\"", "Les Peupliers",
        "Centre Commercial", "Rond-Point Jaurès", "Technopôle", "Lac", "Plateau",
    ]

    /// The network's static GTFS: what names its stop and route ids (served as `/gtfs/static.zip`).
    public var staticNames: TransitNames {
        var stops: [String: TransitNames.Stop] = [:]
        for line in lines {
            for (stop, position) in zip(line.stops, line.stopPositions) where stops[stop] == nil {
                let number = Int(stop.dropFirst()) ?? 0
                let name = Self.stopNames.indices.contains(number - 1) ? Self.stopNames[number - 1] : stop
                stops[stop] = TransitNames.Stop(name: name, latitude: position.latitude, longitude: position.longitude)
            }
        }
        var routes: [String: TransitNames.Route] = [:]
        for line in lines {
            let metro = line.id.hasPrefix("M")
            routes[line.id] = TransitNames.Route(
                shortName: String(line.id.dropFirst()), longName: line.name, type: metro ? 1 : 3,
                color: metro ? "FFCD00" : "00814F")
        }
        return TransitNames(agencies: ["Metropulse Demo Transit"], stops: stops, routes: routes)
    }
}
